"""Compox item files built in memory: flat top-level datasets named after schema fields."""

from __future__ import annotations

import io

import h5py
import numpy as np


def hdf5_bytes(**datasets: np.ndarray) -> bytes:
    """One item file (default: a 2-D float32 image)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as item:
        for key, array in (datasets or {"image": np.arange(64, dtype=np.float32).reshape(8, 8)}).items():
            item.create_dataset(key, data=array)
    return buffer.getvalue()


def read_hdf5(data: bytes) -> dict[str, np.ndarray]:
    with h5py.File(io.BytesIO(data), "r") as item:
        return {key: item[key][()] for key in item.keys()}
