"""TempStore: a run-local directory of item files for training (Compox's training.TempStore).

Every path it writes or reads must resolve inside its root (a sample id or key cannot walk out of
it), and every write is atomic: a file appears under its final name only when complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from compox_ray.hdf5_validation import DEFAULT_MAX_ITEM_BYTES
from compox_ray.runners.hdf5_items import read_item, validate_item, write_item_file
from compox_ray.runners.io_schemas import DataSchema
from compox_ray.runners.item_threads import map_items


class TempStore:
    def __init__(self, root: Path | str, max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES):
        self.root = Path(root).resolve()
        self.max_item_bytes = max_item_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> TempStore:
        return self

    def __exit__(self, *_) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def inside(self, path: Path | str) -> Path:
        """``path`` (relative to the root, or absolute) resolved; ValueError if it leaves the root."""
        resolved = (self.root / path).resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise ValueError(f"path {str(path)!r} is outside the temp store")
        return resolved

    def mkdir(self, path: Path | str) -> Path:
        directory = self.inside(path)
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def save(self, path: Path | str, files: list[dict], pydantic_data_schema: type[DataSchema],
             parallel: bool = False) -> list[Path]:
        """One item file per dict (validated) under ``path``; answers their paths."""
        directory = self.mkdir(path)

        def save_one(values: dict) -> Path:
            target = directory / f"{uuid.uuid4()}.h5"
            staged = target.with_name(target.name + ".partial")
            try:
                write_item_file(staged, validate_item(pydantic_data_schema, values))
                os.replace(staged, target)
            finally:
                staged.unlink(missing_ok=True)
            return target

        return map_items(save_one, list(files), parallel)

    def load(self, paths: list[Path | str], parallel: bool = False, *keys: str) -> list[dict]:
        """The items at ``paths`` as dicts; with ``keys``, only those datasets (missing ones None)."""
        checked = [self.inside(path) for path in paths]
        return map_items(lambda path: read_item(path, keys, max_item_bytes=self.max_item_bytes), checked, parallel)
