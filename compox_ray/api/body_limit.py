"""A cap on request bodies that FastAPI reads whole (JSON), enforced before they are parsed.

FastAPI reads a route's entire body into memory before it validates it, whatever its content
type, so an unbounded body is an unbounded allocation. Routes that declare a raw binary body in
their OpenAPI ``requestBody`` (file upload, deploy zip) stream it themselves under their own,
larger limits (``max_upload_bytes``, ``max_package_bytes``) and are left alone here.
(FastAPI's own ``max_body_size`` answers a too-large Content-Length with Starlette's plain-text
413, not the error body clients branch on.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _streams_its_body(route) -> bool:
    """A route whose OpenAPI request body is declared by hand (``openapi_extra``): it reads a stream."""
    return "requestBody" in (getattr(route, "openapi_extra", None) or {})


class JsonBodyLimit:
    """413 ``payload_too_large`` for a body over ``max_bytes``: on the first read of the body
    from its Content-Length, else as soon as the bytes received pass it (chunked bodies). The
    first read comes after routing, so the route is known by then."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = HTTPException(413, f"The request body is larger than this route accepts ({self.max_bytes} bytes).")
        capped: bool | None = None  # decided on the first read
        received = 0

        async def counted() -> Message:
            # FastAPI lets an HTTPException from reading the body through (api/errors.py answers it
            # as payload_too_large); any other error there would become a 400.
            nonlocal capped, received
            if capped is None:
                capped = not _streams_its_body(scope.get("route"))
                length = dict(scope["headers"]).get(b"content-length", b"")
                if capped and length.isdigit() and int(length) > self.max_bytes:
                    raise too_large
            message = await receive()
            if capped and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        await self.app(scope, counted, send)
