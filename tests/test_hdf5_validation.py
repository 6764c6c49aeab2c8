"""The HDF5 check (compox_ray/hdf5_validation.py) on real files: hostile ones are refused before
any data is read, ordinary ones (compressed, chunked, annotated) pass and read back unchanged."""

from __future__ import annotations

import io

import h5py
import numpy as np
import pytest

from compox_ray.hdf5_validation import InvalidHdf5File, hdf5_problem
from compox_ray.runners.hdf5_items import read_item
from tests.factories.hdf5_files import HOSTILE_HDF5, NORMAL_HDF5, hdf5_bytes, hdf5_file_bytes, hostile_hdf5_bytes

LIMIT = 32 * 2**20


@pytest.mark.parametrize("kind", sorted(HOSTILE_HDF5))
def test_hostile_files_are_refused_with_the_reason(kind, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"server secret " * 8)
    data = hostile_hdf5_bytes(kind, target=str(secret))
    reason = HOSTILE_HDF5[kind][1]
    assert reason in hdf5_problem(io.BytesIO(data), LIMIT)
    path = tmp_path / "item.h5"
    path.write_bytes(data)
    assert reason in hdf5_problem(path, LIMIT)
    with pytest.raises(InvalidHdf5File, match=reason):
        read_item(data, max_item_bytes=LIMIT)


def test_without_the_check_the_hostile_files_do_reach_outside(tmp_path):
    """What the check stops is real: h5py itself reads the server's file and /dev/zero."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(bytes(range(64)))
    with h5py.File(io.BytesIO(hostile_hdf5_bytes("external_storage", target=str(secret))), "r") as item:
        assert item["image"][()].tobytes() == secret.read_bytes()
    with h5py.File(io.BytesIO(hostile_hdf5_bytes("external_storage_dev_zero")), "r") as item:
        assert item["image"].shape == (2**30,) and not item["image"][:16].any()


@pytest.mark.parametrize("kind", sorted(NORMAL_HDF5))
def test_ordinary_files_pass_and_read_back(kind):
    data = hdf5_file_bytes(NORMAL_HDF5[kind])
    assert hdf5_problem(io.BytesIO(data), LIMIT) is None
    with h5py.File(io.BytesIO(data), "r") as item:
        expected = item["image"][()]
    np.testing.assert_array_equal(read_item(data, ("image",), max_item_bytes=LIMIT)["image"], expected)


@pytest.mark.parametrize("data", [b"", b"\x89HDF\r\n\x1a\n", hdf5_bytes()[:200], bytes(range(256)) * 8])
def test_damaged_files_are_refused(data):
    assert hdf5_problem(io.BytesIO(data), LIMIT) == "The bytes are not a complete HDF5 file."


def test_the_size_limit_counts_all_datasets_and_attributes_together():
    def two_halves(item: h5py.File) -> None:
        item["a"] = np.zeros(600, np.uint8)
        item["b"] = np.zeros(600, np.uint8)

    assert hdf5_problem(io.BytesIO(hdf5_file_bytes(two_halves)), 1200) is None
    assert "declares more than 1000 bytes" in hdf5_problem(io.BytesIO(hdf5_file_bytes(two_halves)), 1000)

    def big_attribute(item: h5py.File) -> None:
        item["image"] = np.zeros(8, np.uint8)
        item["image"].attrs["notes"] = np.zeros(2000, np.uint8)

    assert "attribute 'notes'" in hdf5_problem(io.BytesIO(hdf5_file_bytes(big_attribute)), 1000)


def test_hard_link_cycles_and_shared_objects_are_walked_once():
    def cycle(item: h5py.File) -> None:
        item.create_group("a/b")
        item["a/b/back_to_a"] = item["a"]
        item["a/b/root"] = item["/"]
        item["image"] = np.zeros(600, np.uint8)
        item["same_image"] = item["image"]  # a second hard link: its bytes are counted once

    assert hdf5_problem(io.BytesIO(hdf5_file_bytes(cycle)), 1000) is None


def test_a_file_with_five_thousand_links_is_refused_once_the_walk_budget_is_spent():
    data = hostile_hdf5_bytes("too_many_links")
    with h5py.File(io.BytesIO(data), "r") as item:
        assert len(item) == 5_001
    assert "walk stopped" in hdf5_problem(io.BytesIO(data), LIMIT)


def test_attributes_count_against_the_walk_budget():
    def links_and_attributes(item: h5py.File) -> None:
        image = item.create_dataset("image", data=np.zeros(4, np.float32))
        for index in range(995):
            item[f"alias{index}"] = h5py.SoftLink("/image")
        for index in range(10):
            image.attrs[f"a{index}"] = index

    assert "walk stopped at '/image'" in hdf5_problem(io.BytesIO(hdf5_file_bytes(links_and_attributes)), LIMIT)
