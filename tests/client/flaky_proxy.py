"""A real HTTP server on 127.0.0.1 in front of the test server, answering with a script first:
``"503"`` (busy, nothing forwarded), ``"forward-then-503"`` (the server did it, the answer is lost),
``"404"`` (a route this server lacks, as on Compox itself), ``"drop"`` (the connection closes with
no answer); everything else, and every request after its script ran out, is forwarded."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}


@dataclass
class Script:
    method: str
    pattern: re.Pattern
    answers: list[str]
    forever: bool = False

    def take(self) -> str | None:
        if not self.answers:
            return None
        return self.answers[0] if self.forever else self.answers.pop(0)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    answer: str
    upstream_body: bytes = b""  # what the server answered, where the request was forwarded


@dataclass
class FlakyProxy:
    upstream: str
    scripts: list[Script] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self):
        self._http = httpx.Client(base_url=self.upstream, timeout=120)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, method: str, pattern: str, *answers: str, forever: bool = False) -> None:
        self.scripts.append(Script(method, re.compile(pattern), list(answers), forever))

    def requests(self, method: str, pattern: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.method == method and re.search(pattern, seen.path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()

    def _answer_for(self, method: str, path: str) -> str:
        with self._lock:
            for script in self.scripts:
                if script.method == method and script.pattern.search(path):
                    answer = script.take()
                    if answer is not None:
                        return answer
        return "forward"

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = proxy._answer_for(self.command, self.path)
                seen = Seen(self.command, self.path, dict(self.headers.items()), answer)
                with proxy._lock:
                    proxy.seen.append(seen)
                if answer == "drop":
                    self.close_connection = True
                    return
                if answer in ("503", "404"):
                    self._send(int(answer), json.dumps({"detail": "scripted"} | (
                        {"code": "service_unavailable", "retryable": True} if answer == "503" else {})).encode(),
                        "application/json")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                response = proxy._http.request(self.command, self.path, content=body, headers=headers)
                seen.upstream_body = response.content
                if answer == "forward-then-503":
                    self._send(503, b'{"detail": "scripted", "code": "service_unavailable", "retryable": true}',
                               "application/json")
                    return
                self._send(response.status_code, response.content, response.headers.get("content-type", ""))

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _handle

        return Handler
