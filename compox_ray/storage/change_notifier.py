"""Wake coroutines waiting for a record to change (long-poll for server-sent events, a runner
waiting for the record of the execution it was handed)."""

from __future__ import annotations

import asyncio


class ChangeNotifier:
    def __init__(self):
        self._events: dict[str, asyncio.Event] = {}

    def notify(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def listen(self, key: str) -> asyncio.Event:
        """An event set by the next ``notify(key)``. Take it before reading what may change, then
        wait on it: a change between the read and the wait is not missed."""
        return self._events.setdefault(key, asyncio.Event())

    @staticmethod
    async def changed(event: asyncio.Event, timeout_s: float) -> bool:
        """True if ``event`` (from ``listen``) was set within ``timeout_s``."""
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False
