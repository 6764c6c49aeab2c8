"""What runs and listings answer: a completed execution's outputs as arrays, checkpoints as a table."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa


@dataclass
class RunResult(Mapping):
    """A COMPLETED execution: ``record`` (the ExecutionRecord), ``items`` (each output file's
    datasets, in order) and, as a mapping, each dataset name stacked over the output files along
    axis 0: ``result["image"]`` is the output volume of an image runner (one file per slice)."""

    record: dict
    items: list[dict[str, np.ndarray]] = field(default_factory=list)

    @property
    def execution_id(self) -> str:
        return self.record["execution_id"]

    @property
    def file_ids(self) -> list[str]:
        return list(self.record.get("output_dataset_ids") or [])

    @property
    def log(self) -> str:
        return self.record.get("log") or ""

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._keys():
            raise KeyError(f"{key!r} is not in every output item (they hold {self._names()}); see .items")
        arrays = [np.asarray(item[key]) for item in self.items]
        if len({array.shape for array in arrays}) > 1:
            raise ValueError(f"the outputs' {key!r} differ in shape; see .items for each one")
        return np.stack(arrays)

    def _keys(self) -> list[str]:
        """The dataset names every output item has, in the first item's order."""
        if not self.items:
            return []
        common = set.intersection(*(set(item) for item in self.items))
        return [name for name in self.items[0] if name in common]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __contains__(self, key) -> bool:
        return key in self._keys()

    def _names(self) -> list[str]:
        return sorted({name for item in self.items for name in item})

    def __repr__(self) -> str:
        return (f"RunResult(execution_id={self.execution_id!r}, status={self.record.get('status')!r}, "
                f"outputs={len(self.items)}, keys={list(self)})")


_RECORD_COLUMNS = ("checkpoint_id", "training_id", "parent_algorithm_id", "algorithm_minor_version", "created_at",
                   "tags", "parent_checkpoint_id")


def checkpoint_table(checkpoints: list[dict]) -> pa.Table:
    """One row per checkpoint: the record's fields, then each property as a column of its own
    (``properties.<name>`` where a property shares a field's name), for pyarrow.compute filters
    and sorts such as ``table.sort_by("validation_loss")``."""
    columns: dict[str, list] = {name: [c.get(name) for c in checkpoints] for name in _RECORD_COLUMNS}
    names = list(dict.fromkeys(name for c in checkpoints for name in (c.get("properties") or {})))
    for name in names:
        column = f"properties.{name}" if name in columns else name
        columns[column] = [(c.get("properties") or {}).get(name) for c in checkpoints]
    return pa.table({name: _arrow_column(values) for name, values in columns.items()})


def _arrow_column(values: list) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types across checkpoints: keep them as JSON text
        return pa.array([None if value is None else json.dumps(value, default=str) for value in values], pa.string())
