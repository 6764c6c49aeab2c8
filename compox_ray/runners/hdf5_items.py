"""Item files: one HDF5 file per item, flat top-level datasets named after schema fields.

Reading answers a dict of numpy arrays (strings decoded) once the file passed the HDF5 check
(compox_ray/hdf5_validation.py: nothing outside its own bytes, declared sizes bounded), so every
item an algorithm reads is checked, whichever way its blob arrived; writing skips fields that are None.
``validate_item`` turns what HDF5 gives back (arrays) into what a schema declares (lists,
tuples) before pydantic checks it, so an item written by ``post_data`` reads back unchanged.
"""

from __future__ import annotations

import io
import typing
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

from compox_ray.hdf5_validation import DEFAULT_MAX_ITEM_BYTES, check_hdf5_file
from compox_ray.runners.io_schemas import DataSchema


def _read_dataset(dataset: h5py.Dataset):
    if h5py.check_string_dtype(dataset.dtype) is not None:
        value = dataset.asstr()[()]
        return value.tolist() if isinstance(value, np.ndarray) else value
    value = dataset[()]
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else value


def read_item(source: bytes | Path | str, keys: Iterable[str] = (), *,
              max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES) -> dict:
    """The item's datasets; with ``keys``, only those (a missing key reads as None, as in Compox).
    InvalidHdf5File, before any data is read, if the file fails the HDF5 check."""
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    with h5py.File(handle, "r") as item:
        check_hdf5_file(item, max_item_bytes)
        names = list(keys) or list(item.keys())
        return {name: _read_dataset(item[name]) if name in item else None for name in names}


def _write_datasets(item: h5py.File, values: dict) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, str):
            item.create_dataset(name, data=value, dtype=h5py.string_dtype("utf-8"))
        else:
            item.create_dataset(name, data=np.asarray(value))


def item_bytes(values: dict) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as item:
        _write_datasets(item, values)
    return buffer.getvalue()


def write_item_file(path: Path, values: dict) -> None:
    with h5py.File(path, "w") as item:
        _write_datasets(item, values)


def _container_of(annotation) -> type | None:
    """list or tuple when a field's annotation (possibly Optional) is one, else None."""
    for candidate in (annotation, *typing.get_args(annotation)):
        origin = typing.get_origin(candidate) or candidate
        if origin in (list, tuple):
            return origin
    return None


def validate_item(schema: type[DataSchema], values: dict) -> dict:
    """Check ``values`` against ``schema``; answers every schema field (absent optional ones as None)."""
    prepared = dict(values)
    for name, field in schema.model_fields.items():
        container = _container_of(field.annotation)
        value = prepared.get(name)
        if container is not None and isinstance(value, np.ndarray):
            prepared[name] = tuple(value.tolist()) if container is tuple else list(value)
    return schema.model_validate(prepared).model_dump()
