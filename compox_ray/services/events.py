"""Server-sent events of a run (execution or training): the record on every change."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from compox_ray.storage.run_records import TERMINAL


async def event_stream(event: str, snapshots_after: Callable[[int], Awaitable[list[dict]]],
                       wait_after: Callable[[int], Awaitable[bool]], render: Callable[[dict], str],
                       last_event_id: int, current: dict) -> AsyncIterator[str]:
    """From after ``last_event_id`` to the terminal status; a comment line keeps idle streams open.

    ``current`` is the run's record when the stream was asked for. A client that has seen its
    last revision of an ended run, or names one beyond it, gets an empty stream that ends at once;
    beyond the revision of a run still going, it gets what follows the current revision. A record
    that goes while the stream waits (purged) ends the stream too."""
    revision = min(last_event_id, current["revision"])
    if current["status"] in TERMINAL and revision >= current["revision"]:
        return
    woken = False
    while True:
        snapshots = await snapshots_after(revision)
        if woken and not snapshots:
            return  # woken by a change that left nothing to read: the record is gone
        for snapshot in snapshots:
            revision = snapshot["revision"]
            yield f"id: {revision}\nevent: {event}\ndata: {render(snapshot)}\n\n"
            if snapshot["status"] in TERMINAL:
                return
        woken = await wait_after(revision)
        if not woken:
            yield ": keep-alive\n\n"
