"""BaseRunner: the class every algorithm's ``Runner`` derives from (Compox's BaseRunner API).

How the server uses a runner: it builds ``Runner()`` with no arguments, calls ``initialize(device)``
and then ``load_assets()`` once; that warm instance then serves many runs, possibly at the same time.
Hence two kinds of attributes:
- set in ``load_assets``: shared by every run and locked (reassigning raises AttributeError;
  mutating them in place is not guarded, so treat them as read-only);
- set anywhere else during a run: private to that run (kept in a context variable), so two
  concurrent runs never see each other's values and a run never sees the previous run's.
Values set in ``__init__`` are shared defaults that a run may shadow for itself.

Every helper talks to the server through ``current_context()`` (runners/context.py); assets come
from the package the runner was loaded from.
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from compox_ray.runners.assets import PackageAssets
from compox_ray.runners.context import RunContext, current_context
from compox_ray.runners.io_schemas import DataSchema
from compox_ray.runners.item_transfer import fetch_items, post_items
from compox_ray.runners.training_helpers import TrainingHelpers

# runner id -> that runner's attributes for the active run; None outside runs.
_run_attributes: contextvars.ContextVar[dict[int, dict] | None] = contextvars.ContextVar(
    "compox_ray_run_attributes", default=None)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@contextlib.contextmanager
def run_attributes_scope(runner: BaseRunner) -> Iterator[None]:
    """Give ``runner`` a fresh, empty set of per-run attributes for the duration of one run."""
    runs = dict(_run_attributes.get() or {})
    runs[id(runner)] = {}
    token = _run_attributes.set(runs)
    try:
        yield
    finally:
        _run_attributes.reset(token)


def _run_values(runner: BaseRunner) -> dict | None:
    runs = _run_attributes.get()
    return None if runs is None else runs.get(id(runner))


def _active_context() -> RunContext | None:
    try:
        return current_context()
    except RuntimeError:
        return None


class BaseRunner(TrainingHelpers, ABC):
    """Implement ``preprocess``, ``inference`` and ``postprocess`` (or derive from a typed runner
    such as Image2ImageRunner, which provides the first and last); optionally ``load_assets``,
    ``train`` and ``benchmark``."""

    algorithm_type = "Generic"

    def __init__(self):
        """The server calls this with no arguments; override it without parameters."""

    # -- attribute storage ------------------------------------------------------------------------
    def __getattribute__(self, name: str) -> Any:
        runs = _run_attributes.get()
        if runs is not None:
            values = runs.get(id(self))
            if values is not None and name in values:
                return values[name]
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "device":
            raise AttributeError("device is chosen by the server; read it with self.device")
        state = object.__getattribute__(self, "__dict__")
        if state.get("_loading_assets"):
            state["_locked_attributes"].add(name)
            object.__setattr__(self, name, value)
            return
        if name in state.get("_locked_attributes", ()):
            raise AttributeError(f"'{name}' was set in load_assets and is shared by every run, so it cannot "
                                 "be reassigned; keep per-run values under another name")
        values = _run_values(self)
        if values is not None:
            values[name] = value
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        values = _run_values(self)
        if values is not None and name in values:
            del values[name]
        elif name in object.__getattribute__(self, "__dict__").get("_locked_attributes", ()):
            raise AttributeError(f"'{name}' was set in load_assets and is shared by every run: it cannot be deleted")
        else:
            object.__delattr__(self, name)

    # -- lifecycle (called by the server) ---------------------------------------------------------
    def initialize(self, device: str | None = None) -> None:
        """Record the device the runner is loaded for ("cpu", "cuda", "cuda:1", "mps")."""
        if device:
            object.__setattr__(self, "_device", device)

    def _load_assets(self, assets: PackageAssets | None) -> None:
        """Run the author's load_assets once and lock every attribute it sets."""
        object.__setattr__(self, "_assets", assets)
        object.__setattr__(self, "_locked_attributes", set())
        object.__setattr__(self, "_loading_assets", True)
        try:
            self.load_assets()
        finally:
            object.__setattr__(self, "_loading_assets", False)

    def load_assets(self) -> None:
        """Load models and other assets with ``self.fetch_asset(path)`` and keep them as attributes."""

    @property
    def device(self) -> str:
        """The device of the active run, or the one the runner was loaded for outside runs."""
        context = _active_context()
        if context is not None:
            return context.device
        return object.__getattribute__(self, "__dict__").get("_device", "cpu")

    # -- the algorithm ----------------------------------------------------------------------------
    @abstractmethod
    def preprocess(self, input_data: dict, args: dict | None = None) -> Any:
        """``input_data`` is ``{"input_dataset_ids": [...]}``; answer what ``inference`` needs."""

    @abstractmethod
    def inference(self, data: Any, args: dict | None = None) -> Any:
        """Compute the result from what ``preprocess`` answered."""

    @abstractmethod
    def postprocess(self, data: Any, args: dict | None = None) -> list[str]:
        """Store the result (``post_data``) and answer the output file ids."""

    def benchmark(self, args: dict | None = None) -> dict:
        """Optional: measurements worth showing in the registry (``benchmark_outputs``)."""
        return {}

    def run(self, input_data: dict, args: dict | None = None) -> list[str]:
        """preprocess -> inference -> postprocess, timing each step in the run's log."""
        args = {} if args is None else args
        log = current_context().report_log
        started = time.perf_counter()
        log("Starting execution.")
        step = time.perf_counter()
        data = self.preprocess(input_data, args)
        log(f"Data preprocessing finished in {time.perf_counter() - step:.2f} seconds.")
        step = time.perf_counter()
        log("Running inference.")
        data = self.inference(data, args)
        log(f"Inference finished in {time.perf_counter() - step:.2f} seconds.")
        step = time.perf_counter()
        log("Postprocessing output data.")
        output_ids = self.postprocess(data, args)
        log(f"Postprocessing finished in {time.perf_counter() - step:.2f} seconds.")
        if not isinstance(output_ids, (list, tuple)) or not all(isinstance(i, str) for i in output_ids):
            raise TypeError("postprocess must return the list of output file ids that post_data answered, "
                            f"got {type(output_ids).__name__}")
        log(f"Execution completed in {time.perf_counter() - started:.2f} seconds.")
        return list(output_ids)

    def run_training(self, training_data: list[str], args: dict | None = None) -> None:
        args = {} if args is None else args
        log = current_context().report_log
        started = time.perf_counter()
        log("Starting training.")
        self.train(training_data, args)
        log(f"Training completed in {time.perf_counter() - started:.2f} seconds.")

    def train(self, training_data: list[str], args: dict | None = None) -> None:
        """Optional: train on the samples ``training_data`` (ids) and ``save_checkpoint`` the result."""
        raise NotImplementedError("This algorithm cannot be trained: its Runner does not implement train().")

    # -- item files -------------------------------------------------------------------------------
    def fetch_data(self, file_ids: list[str], pydantic_data_schema: type[DataSchema], *keys: str,
                   parallel: bool = False) -> list[dict]:
        """Read item files as dicts validated by the schema; with ``keys``, only those datasets."""
        return fetch_items(file_ids, pydantic_data_schema, keys, parallel)

    def post_data(self, data: list[dict], pydantic_data_schema: type[DataSchema], parallel: bool = False) -> list[str]:
        """Validate each dict with the schema, store it as an item file, answer the new file ids."""
        return post_items(data, pydantic_data_schema, parallel)

    def fetch_asset(self, asset_path: str):
        """An asset of the package (or of the checkpoint the run uses) as io.BytesIO."""
        return self._package_assets().read(asset_path)

    def _package_assets(self) -> PackageAssets:
        assets = object.__getattribute__(self, "__dict__").get("_assets")
        if assets is None:
            raise ValueError("Algorithm assets are not available: load the runner through the server or "
                             "compox_ray.algorithms.loader.load_algorithm_from_folder")
        return assets

    # -- progress and log -------------------------------------------------------------------------
    def set_progress(self, progress: float) -> None:
        """Report progress, a number between 0 and 1 (raises RunStopped after a stop request)."""
        if isinstance(progress, bool) or not isinstance(progress, numbers.Real) or not 0.0 <= progress <= 1.0:
            raise ValueError(f"Progress must be a number between 0 and 1, got {progress!r}.")
        current_context().report_progress(float(progress))

    def log_message(self, message: str, logging_level: str = "INFO") -> None:
        """Add a line to the run's log; levels DEBUG, INFO, WARNING, ERROR."""
        level = str(logging_level).upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"Invalid logging level {logging_level!r}; use one of {', '.join(LOG_LEVELS)}.")
        current_context().report_log(str(message), level)

    # -- session cache ----------------------------------------------------------------------------
    def save_item_to_session(self, obj: Any, key: str) -> None:
        current_context().session_put(key, obj)

    def load_item_from_session(self, key: str) -> Any:
        """The item saved under ``key`` by an earlier run of the session; KeyError if absent."""
        return current_context().session_get(key)

    def remove_item_from_session(self, key: str) -> None:
        current_context().session_remove(key)
