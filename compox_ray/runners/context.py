"""The boundary between algorithm code and the server that runs it.

The runtime (an execution on a Runner replica, a training task) builds one ``RunContext`` per run
and activates it with ``use_context`` around the call into the algorithm. Everything the author
API offers (fetch_data, post_data, set_progress, log_message, sessions, checkpoints) goes through
the active context, so one Runner instance can serve concurrent runs without sharing state.

Every method is synchronous: algorithm code runs in a worker thread, never on an event loop.
``report_progress`` and ``report_log`` raise ``RunStopped`` once a stop was requested; the runtime
turns that into the STOPPED status.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, Protocol


class RunStopped(Exception):
    """Raised inside algorithm code at its next progress or log call after a stop request."""


class RunContext(Protocol):
    run_id: str                # execution_id or training_id
    device: str                # "cpu", "cuda", "cuda:N", "mps": what the algorithm should use
    parameters: dict[str, Any]  # additional parameters, validated and with defaults filled in
    max_item_bytes: int        # the HDF5 check's bound on an item file's declared data (setting max_item_bytes)

    # Item files (HDF5 bytes) by file id.
    def read_file(self, file_id: str) -> bytes: ...
    def write_file(self, data: bytes) -> str: ...  # stores an output file, answers its new id

    # Progress and log; both raise RunStopped after a stop request.
    def report_progress(self, value: float) -> None: ...
    def report_log(self, message: str, level: str = "INFO") -> None: ...

    # The session cache of this run's session token.
    def session_get(self, key: str) -> Any: ...  # KeyError (saying why) when absent or evicted
    def session_put(self, key: str, value: Any) -> None: ...
    def session_remove(self, key: str) -> None: ...

    # Training only (an execution's context raises NotImplementedError).
    def read_sample(self, sample_id: str) -> dict: ...  # SampleRecord as a dict: sample_id, files, tags
    def save_checkpoint(self, assets: dict[str, bytes], properties: dict) -> str: ...  # checkpoint id
    def set_state(self, state: dict) -> None: ...
    def get_state(self) -> dict: ...
    def temp_dir(self) -> str: ...  # a run-local directory, removed when the run ends


_active: contextvars.ContextVar[RunContext] = contextvars.ContextVar("compox_ray_run_context")


def current_context() -> RunContext:
    try:
        return _active.get()
    except LookupError:
        raise RuntimeError("no run is active: runner helpers work only inside an execution or training") from None


@contextlib.contextmanager
def use_context(context: RunContext) -> Iterator[RunContext]:
    token = _active.set(context)
    try:
        yield context
    finally:
        _active.reset(token)
