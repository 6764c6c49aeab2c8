"""Server-sent event responses: where a reconnecting client was (``Last-Event-ID``), and how many
streams one Api replica keeps open.

The framing (``id:``/``event:``/``data:`` lines, keep-alive comments) is written by
services/events.py; Starlette's StreamingResponse sends it and ends the stream's generator when
the client goes away, which is all an SSE library would add here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import StreamingResponse

from compox_ray.errors import CompoxError

# Revisions are SQLite integers: 18 digits always fit in one.
_EVENT_ID = re.compile(r"[0-9]{1,18}")


def last_event_id(header: str | None) -> int:
    """The revision a client last saw; 0 without the header. Anything but a plain decimal
    revision answers 400 (``str.isdigit`` would take "²" and then ``int`` fail on it)."""
    if header is None or not header.strip():
        return 0
    if not _EVENT_ID.fullmatch(header.strip()):
        raise CompoxError(400, "invalid_last_event_id",
                          "Last-Event-ID must be the decimal id of an event this stream sent.",
                          last_event_id=header[:32])
    return int(header)


class EventStreamSlots:
    """The event streams one Api replica has open, at most ``capacity``. Each open stream holds
    one of Serve's ongoing-request slots of the replica for as long as it lasts, so the Api
    deployment's ``max_ongoing_requests`` must stay above ``capacity`` for other requests
    (``/api/v0/health`` among them) to be served while the streams are full."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.open = 0

    def take(self) -> None:
        if self.open >= self.capacity:
            raise CompoxError(503, "service_unavailable",
                              f"This server replica already streams {self.capacity} event streams; retry later "
                              "or poll the record.", retryable=True)
        self.open += 1

    def give_back(self) -> None:
        self.open -= 1


class _SlotStreamingResponse(StreamingResponse):
    """Gives its slot back however the response ends: finished, client gone, or never started."""

    def __init__(self, content: AsyncIterator[str], slots: EventStreamSlots, **kwargs):
        super().__init__(content, **kwargs)
        self._slots = slots

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slots.give_back()


def event_stream_response(request: Request, stream: AsyncIterator[str]) -> StreamingResponse:
    """A text/event-stream of ``stream``; 503 ``service_unavailable`` while this replica's
    streams are full (``max_event_streams``)."""
    slots: EventStreamSlots = request.app.state.event_stream_slots
    slots.take()
    return _SlotStreamingResponse(stream, slots, media_type="text/event-stream",
                                  headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
