"""Compox item files built in memory: flat top-level datasets named after schema fields."""

from __future__ import annotations

import io
from collections.abc import Callable

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


def hdf5_file_bytes(build: Callable[[h5py.File], object]) -> bytes:
    """An HDF5 file written in memory by ``build(file)``."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as item:
        build(item)
    return buffer.getvalue()


def _virtual_dataset(item: h5py.File) -> None:
    layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
    layout[:] = h5py.VirtualSource("/tmp/elsewhere.h5", "data", shape=(4,))
    item.create_virtual_dataset("image", layout)


def _links_to_one_dataset(item: h5py.File, count: int) -> None:
    item["image"] = np.zeros((8, 8), np.float32)
    for index in range(count):
        item[f"alias{index}"] = h5py.SoftLink("/image")


# Files that would make a reader reach past their own bytes or run it out of memory, each with
# the words the refusal's reason must contain. ``target`` is a file on the server to point at.
HOSTILE_HDF5 = {
    "external_storage": (lambda item, target: item.create_dataset(
        "image", shape=(64,), dtype="u1", external=[(str(target), 0, 64)]), "external storage"),
    "external_storage_dev_zero": (lambda item, target: item.create_dataset(
        "image", shape=(2**30,), dtype="u1", external=[("/dev/zero", 0, 2**30)]), "external storage"),
    "external_link": (lambda item, target: item.__setitem__(
        "image", h5py.ExternalLink(str(target), "/image")), "external link"),
    "external_link_in_a_subgroup": (lambda item, target: item.create_group("a/b").__setitem__(
        "image", h5py.ExternalLink(str(target), "/image")), "external link"),
    "virtual_dataset": (lambda item, target: _virtual_dataset(item), "virtual dataset"),
    "unknown_filter": (lambda item, target: item.create_dataset(
        "image", data=np.zeros(64, np.uint8), chunks=(16,), compression=32999, allow_unknown_filter=True),
        "filter 32999"),
    "declared_100_gb_gzip": (lambda item, target: item.create_dataset(
        "image", shape=(25 * 10**9,), dtype="f4", chunks=(2**18,), compression="gzip"), "declares more than"),
    "declared_100_gb_unwritten": (lambda item, target: item.create_dataset(
        "image", shape=(10**5, 10**6), dtype="u1"), "declares more than"),
    "chunk_larger_than_its_dataset": (lambda item, target: item.create_dataset(
        "image", shape=(8,), maxshape=(None,), dtype="u1", chunks=(2**31,)), "chunks of"),
    "groups_nested_too_deep": (lambda item, target: item.create_group("/".join(["g"] * 40)), "nest deeper"),
    "too_many_links": (lambda item, target: _links_to_one_dataset(item, 5_000), "more than 1000 links"),
}

# Ordinary files the check must let through: compressed, chunked, strings, links inside, attributes.
NORMAL_HDF5 = {
    "gzip_shuffle_fletcher32": lambda item: item.create_dataset(
        "image", data=np.arange(4096, dtype=np.float32).reshape(64, 64), chunks=(16, 16), compression="gzip",
        shuffle=True, fletcher32=True),
    "lzf": lambda item: item.create_dataset("image", data=np.ones((32, 32), np.uint16), compression="lzf"),
    "scaleoffset": lambda item: item.create_dataset("image", data=np.arange(256, dtype=np.int32), scaleoffset=0),
    "szip": lambda item: item.create_dataset("image", data=np.arange(256, dtype=np.int32), compression="szip"),
    "chunked_resizable": lambda item: item.create_dataset(
        "image", data=np.zeros((4, 8), np.float32), maxshape=(None, 8), chunks=(1, 8)),
    "strings_attributes_soft_link_and_dimension_scale": lambda item: _annotated_item(item),
}


def _annotated_item(item: h5py.File) -> None:
    image = item.create_dataset("image", data=np.zeros((4, 4), np.float32))
    image.attrs["spacing"] = np.array([0.5, 0.5])
    item.create_dataset("stats", data="mean 0", dtype=h5py.string_dtype("utf-8"))
    item["alias"] = h5py.SoftLink("/image")
    axis = item.create_dataset("axis", data=np.arange(4.0))
    axis.make_scale("x")
    image.dims[0].attach_scale(axis)  # in-file references in attributes


def hostile_hdf5_bytes(kind: str, target: str = "/etc/passwd") -> bytes:
    build, _reason = HOSTILE_HDF5[kind]
    return hdf5_file_bytes(lambda item: build(item, target))
