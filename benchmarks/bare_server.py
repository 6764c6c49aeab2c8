"""The file figures without a server's own work: a bare ASGI app under uvicorn on 127.0.0.1 that
counts what it receives and sends as many bytes back in 1 MiB chunks, driven with the very client
calls of the files workload.

What it gives is the cost of this client, HTTP and uvicorn alone on this machine at that moment:
no upload can be faster with this client. A download can come close to it or, with other chunk
sizes and on a lucky moment, pass it: the figure is noisy, a third either way between runs
minutes apart.

    python -m benchmarks.bare_server --serve PORT      # the server itself (run_all starts it)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks.client import ApiClient
from benchmarks.processes import ChildServer, free_port

_CHUNK = b"\0" * 2**20


class _BareServer:
    """POST /api/v0/files counts the body; GET /api/v0/files/{id} sends that many bytes back."""

    def __init__(self):
        self.received = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            received = 0
            while True:
                message = await receive()
                received += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
            self.received = received
            await _answer(send, b'{"file_id": "any"}', b"application/json")
        elif scope["method"] == "GET" and scope["path"].startswith("/api/v0/files/"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(self.received).encode())]})
            left = self.received
            while left > 0:
                piece = _CHUNK[:min(left, len(_CHUNK))]
                left -= len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": left > 0})
            if self.received == 0:
                await send({"type": "http.response.body", "body": b""})
        else:
            await _answer(send, b"{}", b"application/json")


async def _answer(send, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def measure(path: Path, repetitions: int, log_dir: Path) -> str:
    """Median upload and download MiB/s of ``path`` against the bare server, as a line for the notes."""
    port = free_port()
    server = ChildServer("bare-server", [sys.executable, "-m", "benchmarks.bare_server", "--serve", str(port)],
                       port=port, env=None, log_dir=log_dir, ready_path="/", ready_timeout_s=60,
                       cwd=Path(__file__).resolve().parent.parent)
    client = ApiClient(server.url)
    try:
        mib = path.stat().st_size / 2**20
        up, down = [], []
        for _ in range(repetitions):
            start = time.perf_counter()
            client.upload_path(path)
            up.append(mib / (time.perf_counter() - start))
            start = time.perf_counter()
            client.download_count("any")
            down.append(mib / (time.perf_counter() - start))
    finally:
        client.close()
        server.stop()
    return (f"bare server (benchmarks/bare_server.py: {mib:.0f} MiB to and from a server that does nothing "
            f"else, median of {repetitions}): upload {statistics.median(up):.0f} MiB/s, "
            f"download {statistics.median(down):.0f} MiB/s")


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, required=True, metavar="PORT")
    port = parser.parse_args().serve
    uvicorn.run(_BareServer(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
