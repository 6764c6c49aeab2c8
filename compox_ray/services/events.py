"""Server-sent events of a run (execution or training): the record on every change."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from compox_ray.storage.run_records import TERMINAL


async def event_stream(event: str, snapshots_after: Callable[[int], Awaitable[list[dict]]],
                       wait_after: Callable[[int], Awaitable[bool]], render: Callable[[dict], str],
                       last_event_id: int) -> AsyncIterator[str]:
    """From after ``last_event_id`` to the terminal status; a comment line keeps idle streams open."""
    revision = last_event_id
    while True:
        for snapshot in await snapshots_after(revision):
            revision = snapshot["revision"]
            yield f"id: {revision}\nevent: {event}\ndata: {render(snapshot)}\n\n"
            if snapshot["status"] in TERMINAL:
                return
        if not await wait_after(revision):
            yield ": keep-alive\n\n"
