"""Client: files (arrays, item mappings, HDF5 paths, slices) and the algorithm catalogue."""

from __future__ import annotations

import uuid
import zipfile

import h5py
import numpy as np
import pytest

from compox_ray.client import CompoxClient, CompoxRayError
from tests.client.conftest import volume


def test_info_names_the_server(compox):
    info = compox.info()
    assert info["name"] and "version" in info and "cuda_capable_devices_count" in info


def test_arrays_and_item_mappings_round_trip(compox):
    image = volume()[0]
    assert np.array_equal(compox.download(compox.upload(image))["image"], image)
    item = {"volume": volume(1), "mask": (volume(2) > 0.5).astype(np.uint8), "stats": "ok"}
    back = compox.download(compox.upload(item))
    assert np.array_equal(back["volume"], item["volume"]) and np.array_equal(back["mask"], item["mask"])
    assert back["stats"] == "ok"
    assert np.array_equal(compox.download(compox.upload(image, key="mask"))["mask"], image)


def test_an_hdf5_path_is_sent_as_it_is_and_saved_back_unchanged(compox, tmp_path):
    source = tmp_path / "slice.h5"
    with h5py.File(source, "w") as item:
        item.create_dataset("image", data=np.arange(12.0).reshape(3, 4))
    file_id = compox.upload(source)
    saved = compox.download_to(file_id, tmp_path / "out" / "copy.h5")
    assert saved.read_bytes() == source.read_bytes()
    assert compox.upload(str(source)) != file_id  # a str is a path too


def test_slices_go_one_item_per_plane_and_stack_back(compox):
    data = volume(3)
    file_ids = compox.upload_slices(data)
    assert len(file_ids) == data.shape[0]
    assert compox.download(file_ids[1])["image"].shape == data.shape[1:]
    assert np.array_equal(compox.download_slices(file_ids), data)
    assert np.array_equal(compox.download_slices(file_ids, key="image"), data)


def test_file_errors_carry_the_servers_code(compox, tmp_path):
    file_id = compox.upload(volume()[0])
    compox.delete(file_id)
    with pytest.raises(CompoxRayError) as missing:
        compox.download(file_id)
    assert (missing.value.status, missing.value.code) == (404, "file_not_found")
    assert str(missing.value).startswith("404 file_not_found: ")
    not_hdf5 = tmp_path / "notes.txt"
    not_hdf5.write_text("not an HDF5 file")
    with pytest.raises(CompoxRayError) as refused:
        compox.upload(not_hdf5)
    assert (refused.value.status, refused.value.code) == (422, "invalid_hdf5_file")
    with pytest.raises(FileNotFoundError):
        compox.upload(tmp_path / "absent.h5")


def test_algorithms_filter_and_resolve_by_name(compox, test_algorithms):
    names = {a["algorithm_name"] for a in compox.algorithms()}
    assert {"denoise_3d", "threshold_segmentation", "unet3d_denoiser", "test_invert"} <= names
    tagged = compox.algorithms(tags=["trainable"])
    assert [a["algorithm_name"] for a in tagged] == ["unet3d_denoiser"]
    assert "unet3d_denoiser" not in {a["algorithm_name"] for a in compox.algorithms(exclude_tags=["trainable"])}
    assert {a["algorithm_type"] for a in compox.algorithms(algorithm_type="Image2Segmentation")} == {
        "Image2Segmentation"}
    assert compox.algorithm("TEST_INVERT")["algorithm_id"] == test_algorithms["invert"]
    assert compox.algorithm("test_invert", 1)["algorithm_id"] == test_algorithms["invert"]
    with pytest.raises(CompoxRayError) as unknown:
        compox.algorithm("no_such_algorithm")
    assert (unknown.value.status, unknown.value.code) == (404, "algorithm_not_found")
    with pytest.raises(CompoxRayError) as unknown_major:
        compox.algorithm("test_invert", 99)
    assert unknown_major.value.code == "algorithm_not_found"


def test_deploy_a_folder_and_export_it(compox, tmp_path):
    from tests.factories.packages import make_algorithm_package

    folder = make_algorithm_package(tmp_path, name=f"client_deploy_{uuid.uuid4().hex[:8]}", version="2.3.0")
    deployed = compox.deploy(folder, removable=True)
    assert (deployed["algorithm_major_version"], deployed["algorithm_minor_version"]) == ("2", "3")
    assert compox.deploy(folder) == deployed  # unchanged content: the same version answers
    archive = compox.export(deployed["algorithm_name"], 2, tmp_path / "exported.zip")
    assert {"Runner.py", "pyproject.toml"} <= set(zipfile.ZipFile(archive).namelist())
    with pytest.raises(FileNotFoundError):
        compox.deploy(tmp_path / "absent")
    with pytest.raises(CompoxRayError) as unknown:
        compox.export("no_such_algorithm", 1, tmp_path / "none.zip")
    assert (unknown.value.status, unknown.value.code) == (404, "algorithm_not_found")
    assert not (tmp_path / "none.zip").exists() and not (tmp_path / "none.zip.partial").exists()


def test_the_earlier_name_still_imports(local_server):
    from compox_ray import Client

    assert CompoxClient is Client
