"""HDF5 inputs of the workload, built at bench time (Compox item files: flat top-level datasets)."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np

_SLAB_ELEMENTS = 2**24  # float32: 64 MiB written at a time, so a 1 GiB file never sits in memory


def volume_file(path: Path, size_mib: int, seed: int = 0) -> Path:
    """An item file holding one float32 ``volume`` of ``size_mib`` MiB (incompressible values)."""
    elements = size_mib * 2**18
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as item:
        volume = item.create_dataset("volume", shape=(elements,), dtype=np.float32)
        for start in range(0, elements, _SLAB_ELEMENTS):
            stop = min(elements, start + _SLAB_ELEMENTS)
            volume[start:stop] = rng.random(stop - start, dtype=np.float32)
    return path


def image_bytes(image: np.ndarray) -> bytes:
    """One 2-D slice as an item file under ``image`` (Compox's Image2Image convention)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as item:
        item.create_dataset("image", data=image)
    return buffer.getvalue()


def read_image(data: bytes) -> np.ndarray:
    with h5py.File(io.BytesIO(data), "r") as item:
        return item["image"][()]


def noisy_volume(size: int, seed: int = 0) -> np.ndarray:
    """A smooth float32 test volume with Gaussian noise: something worth denoising."""
    rng = np.random.default_rng(seed)
    axis = np.linspace(-1, 1, size, dtype=np.float32)
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij", sparse=True)
    clean = (x * x + y * y + z * z < 0.5).astype(np.float32)
    return clean + rng.normal(0, 0.2, (size, size, size)).astype(np.float32)
