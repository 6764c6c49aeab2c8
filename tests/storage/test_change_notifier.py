"""ChangeNotifier: a waiter misses no change, and a key's event goes with its last listener."""

from __future__ import annotations

import asyncio

from compox_ray.storage.change_notifier import ChangeNotifier


def test_a_change_between_the_read_and_the_wait_is_not_missed():
    async def scenario():
        notifier = ChangeNotifier()
        with notifier.listening("executions:a") as changed:
            notifier.notify("executions:a")  # lands after the listener's read, before its wait
            return await notifier.changed(changed, 0.01), len(notifier)

    assert asyncio.run(scenario()) == (True, 0)


def test_a_wait_that_times_out_keeps_no_event():
    async def scenario():
        notifier = ChangeNotifier()
        with notifier.listening("executions:a") as changed:
            woken = await notifier.changed(changed, 0.01)
        return woken, len(notifier)

    assert asyncio.run(scenario()) == (False, 0)


def test_the_other_listeners_of_a_key_are_still_woken():
    async def scenario():
        notifier = ChangeNotifier()

        async def patient():
            with notifier.listening("trainings:t") as changed:
                return await notifier.changed(changed, 5.0)

        async def impatient():
            with notifier.listening("trainings:t") as changed:
                return await notifier.changed(changed, 0.01)

        waiting = asyncio.ensure_future(patient())
        assert await impatient() is False
        kept = len(notifier)
        notifier.notify("trainings:t")
        return await waiting, kept, len(notifier)

    assert asyncio.run(scenario()) == (True, 1, 0)
