"""Server-sent event responses: the Last-Event-ID header says where a reconnecting client was."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse


def last_event_id(header: str | None) -> int:
    return int(header) if header and header.isdigit() else 0


def event_stream_response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
