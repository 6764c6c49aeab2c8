"""What the client's operations ask their transport for, and the rules both transports share.

Operations (operations.py) are written once, without I/O: they yield a ``Call`` (one HTTP
request), a ``Batch`` (requests that may go at once) or a ``Follow`` (wait for a run to end), and
receive the answer. ``Client`` sends them with httpx.Client, ``AsyncClient`` with httpx.AsyncClient.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from compox_ray import __version__
from compox_ray.client.errors import CompoxRayError
from compox_ray.runners.hdf5_items import read_item

TERMINAL = ("COMPLETED", "FAILED", "STOPPED")
RUN_PATHS = {"execution": "/api/v0/executions", "training": "/api/v0/training"}
DEFAULT_URL = "http://127.0.0.1:5481"
# Events come at least every 15 s (keep-alive comments); a stream silent for longer has broken.
STREAM_READ_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def connection_settings(url: str | None, token: str | None) -> tuple[str, dict]:
    """The base URL and headers: explicit values, else $COMPOX_RAY_URL and $COMPOX_RAY_TOKEN."""
    url = (url or os.environ.get("COMPOX_RAY_URL") or DEFAULT_URL).rstrip("/")
    token = token if token is not None else os.environ.get("COMPOX_RAY_TOKEN")
    headers = {"User-Agent": f"compox-ray-client/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return url, headers


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict | None = None
    json: Any = None
    content: bytes | Path | None = None  # a Path is read from disk, again on each attempt
    headers: dict = field(default_factory=dict)
    retry: bool = False  # safe to repeat after a 503 or a dropped connection
    answer: str = "json"  # "json", "item" (an HDF5 item as arrays), "bytes" or "none"
    save_to: Path | None = None  # stream the answer's body into this file; answers the path
    timeout_s: float | None = None


@dataclass(frozen=True)
class Batch:
    """Independent calls; answers their answers in order (the async transport sends them at once)."""

    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Follow:
    """Wait for a run to end; answers its terminal record. Ctrl-C (or cancelling the awaiting task)
    posts a stop of the run, then the interrupt goes on."""

    kind: str  # "execution" or "training"
    run_id: str
    label: str
    progress: bool | None = None  # None: the client's default
    on_update: Callable[[dict], None] | None = None

    @property
    def record_path(self) -> str:
        return f"{RUN_PATHS[self.kind]}/{self.run_id}"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a 503's Retry-After (seconds) is honoured up to ``max_s``."""

    attempts: int = 5
    base_s: float = 0.25
    max_s: float = 10.0

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        retry_after = response.headers.get("Retry-After", "") if response is not None else ""
        if retry_after.isdigit():
            return min(float(retry_after), self.max_s)
        return min(self.base_s * 2 ** (attempt - 1), self.max_s) * random.uniform(0.75, 1.0)


# Raised before the request left this machine: repeating any call is safe.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The connection broke after the request may have arrived: only a call marked ``retry`` repeats.
BROKEN = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteTimeout)


def should_retry(call: Call, attempt: int, policy: RetryPolicy, *, response: httpx.Response | None = None,
                 error: Exception | None = None) -> bool:
    if attempt >= policy.attempts:
        return False
    if response is not None:
        return call.retry and response.status_code == 503
    return isinstance(error, NOT_SENT) or (call.retry and isinstance(error, BROKEN))


def unreachable(base_url: str, error: Exception) -> CompoxRayError:
    return CompoxRayError(f"no answer from {base_url}: {type(error).__name__}: {error}".rstrip(": "),
                          code="connection_failed", retryable=True)


def decode_answer(call: Call, response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise CompoxRayError.from_response(response)
    if call.answer == "json":
        return response.json()
    if call.answer == "item":
        return read_item(response.content)
    if call.answer == "bytes":
        return response.content
    return None


def events_unsupported(response: httpx.Response) -> bool:
    """A server without the events route (Compox itself): 404/405, but not for an unknown run."""
    if response.status_code not in (404, 405):
        return False
    try:
        body = response.json()
    except ValueError:
        return True
    return not (isinstance(body, dict) and str(body.get("code", "")).endswith("_record_not_found"))


class EventStream:
    """Server-sent events of a run: parses lines, remembers the last event id for reconnects."""

    def __init__(self):
        self.last_id: str | None = None
        self._data: list[str] = []

    def headers(self) -> dict:
        return {"Last-Event-ID": self.last_id, "Accept": "text/event-stream"} if self.last_id else \
            {"Accept": "text/event-stream"}

    def feed(self, line: str) -> dict | None:
        """One line of the stream; the record when it completes an event."""
        if line.startswith("id:"):
            self.last_id = line[3:].strip()
        elif line.startswith("data:"):
            self._data.append(line[5:].lstrip())
        elif line == "" and self._data:
            data, self._data = "\n".join(self._data), []
            return json.loads(data)
        return None


def poll_intervals(start_s: float = 0.05, max_s: float = 1.0):
    """How long to sleep between reads of a run's record when events are not available."""
    interval = start_s
    while True:
        yield interval
        interval = min(interval * 1.5, max_s)


def stop_message(follow: Follow, response: httpx.Response) -> str:
    if response.status_code >= 400:
        return f"compox-ray: interrupted; {follow.kind} {follow.run_id} was not stopped: " \
               f"{CompoxRayError.from_response(response)}"
    return f"compox-ray: interrupted; asked {follow.kind} {follow.run_id} to stop"
