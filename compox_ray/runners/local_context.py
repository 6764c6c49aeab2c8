"""LocalRunContext: a complete RunContext on a local directory, for notebooks, debugging and tests.

What the server keeps in its blob store and records, this keeps in a folder and in memory: item
files under ``<root>/files/<file_id>`` (the blob store's layout), the session as a dict, samples,
checkpoints and state as attributes a test or notebook can inspect. ``request_stop()`` makes the
next progress or log call raise RunStopped, as a stop request does on the server.

    context = LocalRunContext(parameters={"sigma": 2.0})
    ids = context.add_volume(volume)                      # one 2-D item file per slice
    output_ids = algorithm.execute(context, ids)          # a LoadedAlgorithm (algorithms/loader.py)
    denoised = context.read_volume(output_ids)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from compox_ray.hdf5_validation import DEFAULT_MAX_ITEM_BYTES
from compox_ray.runners.context import RunStopped
from compox_ray.runners.hdf5_items import item_bytes, read_item


class LocalRunContext:
    def __init__(self, root: Path | str | None = None, *, device: str = "cpu", parameters: dict | None = None,
                 run_id: str | None = None, max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES):
        self._owns_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="compox_ray_local_"))
        self.files_dir = self.root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id or str(uuid.uuid4())
        self.device = device
        self.parameters: dict[str, Any] = dict(parameters or {})
        self.max_item_bytes = max_item_bytes
        self.progress: list[float] = []
        self.log: list[tuple[str, str]] = []  # (level, message)
        self.session: dict[str, Any] = {}
        self.samples: dict[str, dict] = {}
        self.checkpoints: dict[str, dict] = {}  # checkpoint id -> {"assets": {path: bytes}, "properties": {...}}
        self.state: dict = {}
        self.stop_requested = False
        self._temp_dir: Path | None = None

    # -- setting up inputs ------------------------------------------------------------------------
    def add_file(self, data: bytes) -> str:
        return self.write_file(data)

    def add_item(self, **datasets) -> str:
        """Store one item file from named arrays, e.g. ``add_item(image=slice_2d)``."""
        return self.write_file(item_bytes(datasets))

    def add_volume(self, volume: np.ndarray, key: str = "image") -> list[str]:
        """Store a 3-D array as one 2-D item file per slice along axis 0 (the image runners' input)."""
        return [self.add_item(**{key: plane}) for plane in np.asarray(volume)]

    def add_sample(self, files: list[dict[str, list[str]]], tags: list[str] | None = None) -> str:
        sample_id = str(uuid.uuid4())
        self.samples[sample_id] = {"sample_id": sample_id, "files": files, "tags": list(tags or []),
                                   "time_created": None}
        return sample_id

    # -- reading outputs --------------------------------------------------------------------------
    def read_item(self, file_id: str) -> dict:
        return read_item(self.read_file(file_id), max_item_bytes=self.max_item_bytes)

    def read_volume(self, file_ids: list[str], key: str | None = None) -> np.ndarray:
        """Stack the items' ``key`` (default: their only dataset) along axis 0."""
        planes = []
        for file_id in file_ids:
            item = self.read_item(file_id)
            planes.append(item[key] if key else next(iter(item.values())))
        return np.stack(planes, axis=0)

    def request_stop(self) -> None:
        self.stop_requested = True

    def _check_stop(self) -> None:
        if self.stop_requested:
            raise RunStopped(f"run {self.run_id} was asked to stop")

    # -- RunContext -------------------------------------------------------------------------------
    def read_file(self, file_id: str) -> bytes:
        path = self.files_dir / file_id
        if "/" in file_id or file_id in ("", ".", "..") or not path.is_file():
            raise FileNotFoundError(f"file {file_id!r} does not exist")
        return path.read_bytes()

    def write_file(self, data: bytes) -> str:
        file_id = str(uuid.uuid4())
        staged = self.files_dir / f".{file_id}.partial"
        staged.write_bytes(data)
        os.replace(staged, self.files_dir / file_id)
        return file_id

    def report_progress(self, value: float) -> None:
        self._check_stop()
        self.progress.append(value)

    def report_log(self, message: str, level: str = "INFO") -> None:
        self._check_stop()
        self.log.append((level, message))

    def session_get(self, key: str) -> Any:
        if key not in self.session:
            raise KeyError(f"the session has no item {key!r}")
        return self.session[key]

    def session_put(self, key: str, value: Any) -> None:
        self.session[key] = value

    def session_remove(self, key: str) -> None:
        if key not in self.session:
            raise KeyError(f"the session has no item {key!r}")
        del self.session[key]

    def read_sample(self, sample_id: str) -> dict:
        if sample_id not in self.samples:
            raise KeyError(f"sample {sample_id!r} does not exist")
        return self.samples[sample_id]

    def save_checkpoint(self, assets: dict[str, bytes], properties: dict) -> str:
        checkpoint_id = str(uuid.uuid4())
        self.checkpoints[checkpoint_id] = {"assets": dict(assets), "properties": dict(properties)}
        return checkpoint_id

    def set_state(self, state: dict) -> None:
        self.state = dict(state)

    def get_state(self) -> dict:
        return dict(self.state)

    def temp_dir(self) -> str:
        if self._temp_dir is None:
            self._temp_dir = self.root / "temp" / self.run_id
            self._temp_dir.mkdir(parents=True, exist_ok=True)
        return str(self._temp_dir)

    # -- lifetime ---------------------------------------------------------------------------------
    def log_text(self) -> str:
        return "\n".join(f"{level} {message}" for level, message in self.log)

    def close(self) -> None:
        """Remove the directory if this context created it."""
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalRunContext:
        return self

    def __exit__(self, *_) -> None:
        self.close()
