"""The training half of the runner API: samples, state, checkpoints and the temp store.

Mixed into BaseRunner. Like the rest of the API it reaches the server only through
``current_context()``; the context of an execution raises NotImplementedError for the calls that
only a training can make (read_sample, save_checkpoint, state).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from compox_ray.runners.assets import normalise_asset_path
from compox_ray.runners.context import current_context
from compox_ray.runners.io_schemas import DataSchema
from compox_ray.runners.item_transfer import fetch_items
from compox_ray.runners.temp_store import TempStore
from compox_ray.runners.training_dataset import TrainingDataset, TrainingSample

_TEMP_STORE_ATTRIBUTE = "_compox_ray_temp_store"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def plain_json(value: dict, what: str) -> dict:
    """``value`` as plain JSON types (numpy scalars and arrays converted); ValueError otherwise."""
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        return json.loads(json.dumps(value, default=_plain))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-serialisable: {error}") from None


def _checkpoint_bytes(path: str, content: Any) -> bytes:
    if isinstance(content, io.BytesIO):
        return content.getvalue()
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    raise TypeError(f"checkpoint asset {path!r} must be bytes (e.g. a BytesIO's getvalue()), "
                    f"got {type(content).__name__}")


class TrainingHelpers:
    """Methods of BaseRunner used by ``train``."""

    def get_training_dataset(self, training_sample_ids: list[str]) -> TrainingDataset:
        """The samples as a TrainingDataset (every sample must use the same file keys)."""
        if not training_sample_ids:
            raise ValueError("No training samples were given.")
        context = current_context()
        dataset = TrainingDataset([TrainingSample(context.read_sample(sample_id)) for sample_id in training_sample_ids])
        context.report_log(f"Fetched training dataset with {len(dataset)} samples.")
        return dataset

    def set_state(self, state: dict) -> None:
        """Replace (not merge) the training's state, e.g. the metrics clients poll."""
        current_context().set_state(plain_json(state, "state"))

    def get_state(self) -> dict:
        return current_context().get_state()

    def save_checkpoint(self, checkpoint: dict[str, bytes], properties: dict | None = None) -> str:
        """Store new contents for some of the algorithm's assets; answers the checkpoint id.

        Every key must be an asset path of the algorithm (e.g. "files/weights.pt"): a checkpoint
        replaces assets, it cannot add files the package's code would not know about.
        """
        known = set(self._package_assets().paths())
        if not isinstance(checkpoint, dict) or not checkpoint:
            raise ValueError("A checkpoint is a non-empty dict of asset path -> bytes.")
        assets: dict[str, bytes] = {}
        for path, content in checkpoint.items():
            key = normalise_asset_path(path)
            if key not in known:
                raise ValueError(f"Asset path {path!r} does not exist in the algorithm assets; a checkpoint can only "
                                 f"replace existing assets: {', '.join(sorted(known)) or 'none'}.")
            assets[key] = _checkpoint_bytes(path, content)
        return current_context().save_checkpoint(assets, plain_json(properties or {}, "properties"))

    # -- temp store -------------------------------------------------------------------------------
    def _temp_store(self) -> TempStore:
        store = getattr(self, _TEMP_STORE_ATTRIBUTE, None)
        if store is None:
            context = current_context()
            store = TempStore(Path(context.temp_dir()) / "temp_store", context.max_item_bytes)
            setattr(self, _TEMP_STORE_ATTRIBUTE, store)  # per run: it lives in the run's attributes
        return store

    def save_training_files_to_temp_store(self, folder_path: str | Path, files: list[dict],
                                          pydantic_data_schema: type[DataSchema], parallel: bool = True) -> list[Path]:
        """Validate dicts with the schema and write one item file each under ``folder_path``."""
        return self._temp_store().save(folder_path, files, pydantic_data_schema, parallel=parallel)

    def download_files_to_temp_store(self, folder_path: str | Path, file_ids: list[str],
                                     pydantic_data_schema: type[DataSchema], batch_size: int = 8,
                                     *keys: str) -> list[Path]:
        """Copy item files into the temp store in batches (bounded memory); answers local paths."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        store = self._temp_store()
        paths: list[Path] = []
        for start in range(0, len(file_ids), batch_size):
            items = fetch_items(file_ids[start:start + batch_size], pydantic_data_schema, keys, parallel=True)
            paths += store.save(folder_path, items, pydantic_data_schema, parallel=True)
        return paths

    def download_dataset_to_temp_store(self, dataset: TrainingDataset,
                                       pydantic_data_schemas: dict[str, type[DataSchema]]) -> list[list[dict]]:
        """Every file of every sample, as ``<sample_id>/file_NNNNNN/<key>/`` in the temp store.

        Answers the samples' structure with local paths in place of file ids.
        """
        local_samples: list[list[dict]] = []
        for sample in dataset:
            entries = []
            for index, entry in enumerate(sample.get_file_list()):
                local_entry = {}
                for key, file_ids in entry.items():
                    if key not in pydantic_data_schemas:
                        raise ValueError(f"No schema given for sample key {key!r} "
                                         f"(schemas for: {', '.join(pydantic_data_schemas) or 'none'}).")
                    folder = Path(sample.sample_id) / f"file_{index:06d}" / key
                    local_entry[key] = (self.download_files_to_temp_store(folder, list(file_ids),
                                                                          pydantic_data_schemas[key])
                                        if file_ids else [])
                entries.append(local_entry)
            local_samples.append(entries)
        return local_samples

    def load_dataset_from_temp_store(self, local_samples: list[list[dict]]) -> list[list[dict]]:
        """The structure answered by download_dataset_to_temp_store with the items loaded."""
        return [[{key: self.load_files_from_temp_store(paths) if paths else [] for key, paths in entry.items()}
                 for entry in sample] for sample in local_samples]

    def load_files_from_temp_store(self, paths: list[str | Path], parallel: bool = True, *keys: str) -> list[dict]:
        return self._temp_store().load(paths, parallel, *keys)
