"""The RunContexts of the runtime: what algorithm code reaches through the runner API.

Algorithm code runs in a worker thread (an execution on a Runner replica) or in a Ray task's main
thread (a training); these objects bridge it to the blob store and to the RecordStore and
SessionManager actors. Blobs are read and written from that thread directly. Progress, log lines
and the records of newly written files are batched for ``flush_s`` so a tight loop cannot flood
the records actor (a job that writes 256 slices makes a handful of records calls, not 256); each
flush answers whether a stop was requested, and the next progress or log call then raises
RunStopped. What is still batched when the run ends goes with its terminal write.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import tempfile
import threading
import time
from typing import Any

import ray

from compox_ray import ids, timestamps
from compox_ray.runners.context import RunStopped
from compox_ray.runtime.sessions import real_nbytes
from compox_ray.storage.blobs import BlobStore
from compox_ray.storage.file_records import file_blob_key
from compox_ray.storage.run_records import log_line
from compox_ray.storage.training_records import content_key


def to_cpu(value: Any) -> Any:
    """Session items are kept as CPU copies: a GPU tensor must not pin device memory elsewhere."""
    return value.cpu() if hasattr(value, "cpu") and hasattr(value, "device") else value


class BaseRunContext:
    """Files, batched progress/log with stop checks, sessions. Subclasses say where progress goes
    (``_report``)."""

    def __init__(self, *, run_id: str, device: str, parameters: dict, session_token: str | None,
                 records, sessions, blobs: BlobStore, flush_s: float, max_item_bytes: int):
        self.run_id = run_id
        self.device = device
        self.parameters = parameters
        self.max_item_bytes = max_item_bytes
        self.session_token = session_token
        self._records, self._sessions, self._blobs = records, sessions, blobs
        self._flush_s = flush_s
        self._lock = threading.Lock()
        self._progress: float | None = None
        self._log: list[str] = []
        self._new_files: list[tuple[str, int, float]] = []  # (file_id, size, created_at), not yet recorded
        # Batched from the start: a run shorter than flush_s makes no records call before its
        # terminal write, which then carries its log lines and files.
        self._last_flush = time.monotonic()
        self._stop_requested = False
        self._timer: threading.Timer | None = None

    def _report(self, progress: float | None, lines: str, new_files: list[tuple[str, int, float]]) -> bool:
        raise NotImplementedError

    def _dirty(self) -> bool:
        """Something besides progress, log and new files waits to be written."""
        return False

    # -- files ----------------------------------------------------------------------------------
    def read_file(self, file_id: str) -> bytes:
        return self._blobs.read_bytes(file_blob_key(file_id))

    def write_file(self, data: bytes) -> str:
        """Store an output; its record follows with the next flush (nobody knows its id before)."""
        file_id = ids.new_id()
        self._blobs.write_bytes(file_blob_key(file_id), data)
        with self._lock:
            self._new_files.append((file_id, len(data), timestamps.now()))
        self._flush(force=False, may_stop=False)
        return file_id

    # -- progress, log, stop --------------------------------------------------------------------
    def report_progress(self, value: float) -> None:
        with self._lock:
            self._progress = max(self._progress or 0.0, min(1.0, float(value)))
        self._flush(force=False)

    def report_log(self, message: str, level: str = "INFO") -> None:
        with self._lock:
            self._log.append(log_line(str(message), level.upper()))
        self._flush(force=False)

    def _flush(self, force: bool, may_stop: bool = True) -> None:
        with self._lock:
            waited = time.monotonic() - self._last_flush
            pending = self._progress is not None or self._log or self._new_files or self._dirty()
            if pending and (force or waited >= self._flush_s):
                progress, lines, new_files = self._progress, "".join(self._log), self._new_files
                self._progress, self._log, self._new_files = None, [], []
                self._last_flush = time.monotonic()
                self._stop_requested |= self._report(progress, lines, new_files)
            elif pending and self._timer is None:
                # Written even if the algorithm goes quiet (a long step, a sleep) after this call.
                self._timer = threading.Timer(self._flush_s - waited, self._flush_later)
                self._timer.daemon = True
                self._timer.start()
        if self._stop_requested and may_stop and not force:
            raise RunStopped(f"{self.run_id} was asked to stop")

    def _flush_later(self) -> None:
        with self._lock:
            self._timer = None
        self._flush(force=True)

    def take_pending(self) -> tuple[str, list[tuple[str, int, float]]]:
        """At the end of a run: stop the flush timer and hand over the batched log lines and new
        files (progress is 1.0 at every terminal status anyway), for the terminal write to carry."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            lines, new_files = "".join(self._log), self._new_files
            self._log, self._new_files, self._progress = [], [], None
        return lines, new_files

    def flush(self) -> None:
        """Write what is batched (at the end of a run); never raises RunStopped."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._flush(force=True)

    # -- session --------------------------------------------------------------------------------
    # Items travel pickled: their classes may live in the algorithm's package, which only the
    # processes that run it have imported (not the SessionManager).
    def session_get(self, key: str) -> Any:
        found, value = ray.get(self._sessions.get.remote(self.session_token, key))
        if not found:
            raise KeyError(value)
        return pickle.loads(value)

    def session_put(self, key: str, value: Any) -> None:
        value = to_cpu(value)
        ray.get(self._sessions.put.remote(self.session_token, key, pickle.dumps(value, protocol=5),
                                          real_nbytes(value)))

    def session_remove(self, key: str) -> None:
        ray.get(self._sessions.remove.remote(self.session_token, key))


class ExecutionContext(BaseRunContext):
    """One execution, in a worker thread of a Runner replica."""

    def __init__(self, *, record: dict, **kwargs):
        super().__init__(run_id=record["execution_id"], parameters=record["additional_parameters"],
                         session_token=record["session_token"], **kwargs)

    def _report(self, progress: float | None, lines: str, new_files: list[tuple[str, int, float]]) -> bool:
        return ray.get(self._records.report_execution.remote(self.run_id, progress, lines, new_files))

    def _training_only(self, *_args, **_kwargs):
        raise NotImplementedError("this helper is available only while training")

    read_sample = save_checkpoint = set_state = get_state = temp_dir = _training_only


class TrainingContext(BaseRunContext):
    """One training, in its Ray task's main thread."""

    def __init__(self, *, record: dict, asset_paths: set[str], **kwargs):
        super().__init__(run_id=record["training_id"], parameters=record["additional_parameters"] or {},
                         session_token=record["training_id"], **kwargs)
        self.asset_paths = asset_paths
        self.checkpoint_ids: list[str] = []
        self._state: dict = dict(record.get("state") or {})
        self._state_dirty = False
        self._temp_dir: str | None = None

    def _dirty(self) -> bool:
        return self._state_dirty

    def _report(self, progress: float | None, lines: str, new_files: list[tuple[str, int, float]]) -> bool:
        state = self._state if self._state_dirty else None
        self._state_dirty = False
        return ray.get(self._records.report_training.remote(self.run_id, progress, lines, state, new_files))

    def read_sample(self, sample_id: str) -> dict:
        sample = ray.get(self._records.get_sample.remote(sample_id))
        if sample is None:
            raise KeyError(f"sample {sample_id} was not found")
        return sample | {"time_created": timestamps.iso(sample["time_created"])}  # as the wire SampleRecord

    def set_state(self, state: dict) -> None:
        json.dumps(state)  # the state is stored as JSON: refuse what cannot be, here, not later
        with self._lock:
            self._state, self._state_dirty = dict(state), True
        self._flush(force=False)

    def get_state(self) -> dict:
        return dict(self._state)

    def save_checkpoint(self, assets: dict[str, bytes], properties: dict) -> str:
        unknown = sorted(set(assets) - self.asset_paths)
        if unknown:
            raise ValueError(f"save_checkpoint: {unknown} are not asset paths of this algorithm "
                             f"(it has {sorted(self.asset_paths)})")
        json.dumps(properties)
        hashes = {}
        for path, data in assets.items():
            data = bytes(data)
            hashes[path] = hashlib.sha256(data).hexdigest()
            if not self._blobs.has(content_key(hashes[path])):
                self._blobs.write_bytes(content_key(hashes[path]), data)
        checkpoint = ray.get(self._records.create_checkpoint.remote({
            "checkpoint_id": ids.new_id(), "training_id": self.run_id, "created_at": timestamps.now(),
            "properties": properties, "assets": hashes}))
        self.checkpoint_ids.append(checkpoint["checkpoint_id"])
        self.report_log(f"Saved checkpoint {checkpoint['checkpoint_id']} ({len(assets)} asset(s)).")
        return checkpoint["checkpoint_id"]

    def temp_dir(self) -> str:
        if self._temp_dir is None:
            self._temp_dir = tempfile.mkdtemp(prefix=f"compox-training-{self.run_id}-")
        return self._temp_dir

    def close(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
