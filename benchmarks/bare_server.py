"""The client's own cost, without a server's work: a bare ASGI app under uvicorn on 127.0.0.1 that
counts what it receives and sends as many bytes back in 1 MiB chunks (a small body, up to 1 MiB,
comes back as it was, so a client can parse it), driven with the very client calls of the files
workload and of the realistic job.

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
from benchmarks.datasets import read_image
from benchmarks.processes import ChildServer, free_port

_CHUNK = b"\0" * 2**20
_ECHO_LIMIT = 2**20


class _BareServer:
    """POST /api/v0/files counts the body; GET /api/v0/files/{id} sends that many bytes back (the
    body itself when it was small)."""

    def __init__(self):
        self.received = 0
        self.small_body = b""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["method"] == "POST":
            received, pieces = 0, []
            while True:
                message = await receive()
                piece = message.get("body", b"")
                received += len(piece)
                if received <= _ECHO_LIMIT:
                    pieces.append(piece)
                if not message.get("more_body"):
                    break
            self.received = received
            self.small_body = b"".join(pieces) if received <= _ECHO_LIMIT else b""
            await _answer(send, b'{"file_id": "any"}', b"application/json")
        elif scope["method"] == "GET" and scope["path"].startswith("/api/v0/files/"):
            if self.small_body:
                await _answer(send, self.small_body, b"application/octet-stream")
                return
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


def _start(log_dir: Path) -> tuple[ChildServer, ApiClient]:
    port = free_port()
    server = ChildServer("bare-server", [sys.executable, "-m", "benchmarks.bare_server", "--serve", str(port)],
                         port=port, env=None, log_dir=log_dir, ready_path="/", ready_timeout_s=60,
                         cwd=Path(__file__).resolve().parent.parent)
    return server, ApiClient(server.url)


def measure(path: Path, repetitions: int, log_dir: Path) -> str:
    """Median upload and download MiB/s of ``path`` against the bare server, as a line for the notes."""
    server, client = _start(log_dir)
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


def measure_slices(slices: list[bytes], repetitions: int, log_dir: Path) -> tuple[float, float]:
    """Seconds to upload ``slices`` one after another, and to download and parse as many (the
    realistic job's client calls), best of ``repetitions``."""
    server, client = _start(log_dir)
    try:
        up, down = [], []
        for _ in range(repetitions):
            start = time.perf_counter()
            for data in slices:
                client.upload_bytes(data)
            up.append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in slices:
                read_image(client.download_bytes("any"))
            down.append(time.perf_counter() - start)
    finally:
        client.close()
        server.stop()
    return min(up), min(down)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, required=True, metavar="PORT")
    port = parser.parse_args().serve
    uvicorn.run(_BareServer(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
