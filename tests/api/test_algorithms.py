"""The registry (list, filters, read), delete, export and the loader, on a real server (local and S3)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import zipfile

import numpy as np
import pytest
import ray

from compox_ray import timestamps
from compox_ray.algorithms.loader import load_algorithm
from compox_ray.errors import CompoxError
from compox_ray.runners import LocalRunContext
from compox_ray.services.algorithms import AlgorithmService
from compox_ray.storage.blobs import open_blob_store
from tests.api.algorithm_packages import API_TOUR, deploy, deployed, unique_name
from tests.factories.hdf5_files import hdf5_bytes
from tests.factories.packages import make_algorithm_package

BUNDLED = {"denoise_3d", "threshold_segmentation", "unet3d_denoiser"}


def test_bundled_packages_are_deployed_once(client, server):
    def bundled() -> dict[str, tuple]:
        listed = {item["algorithm_name"]: item for item in client.get("/api/v0/algorithm/all").json()}
        return {name: (listed[name]["algorithm_id"], listed[name]["algorithm_minor_versions"])
                for name in BUNDLED if name in listed}

    before = bundled()
    assert set(before) == BUNDLED and all(minors == ["0"] for _, minors in before.values())

    async def start_replicas(count: int) -> None:
        """What ``count`` more Api replicas do at start, all at once."""
        records = server.actor("records")
        services = [AlgorithmService(server.settings, records, open_blob_store(server.settings)) for _ in range(count)]
        await asyncio.gather(*(service.bundled_ready() for service in services))

    asyncio.run(start_replicas(3))
    assert bundled() == before


def test_registered_response_fields(client):
    denoiser = client.get("/api/v0/algorithm/DENOISE_3D/1").json()
    assert {"algorithm_id", "algorithm_name", "algorithm_version", "algorithm_minor_versions",
            "latest_algorithm_minor_version", "algorithm_minor_version", "algorithm_type", "algorithm_tags",
            "algorithm_description", "supported_devices", "default_device", "additional_parameters",
            "training_parameters", "benchmark_outputs", "removable", "exportable", "storage_metrics"} == set(denoiser)
    assert (denoiser["algorithm_name"], denoiser["algorithm_version"], denoiser["algorithm_type"]) == (
        "denoise_3d", "1", "Image2Image")
    sigma = next(p for p in denoiser["additional_parameters"] if p["name"] == "sigma")
    assert sigma["config"] | {"type": "float_range", "min": 0.1, "max": 10.0} == sigma["config"]
    metrics = denoiser["storage_metrics"]
    assert metrics["module_count"] == 4
    assert metrics["logical_size_bytes"] == metrics["module_bytes"] + metrics["asset_bytes"] > 0
    unet = client.get("/api/v0/algorithm/unet3d_denoiser/1").json()
    assert [p["name"] for p in unet["benchmark_outputs"]] == ["seconds_per_megavoxel"]
    assert {p["name"] for p in unet["training_parameters"]} >= {"epochs", "learning_rate"}
    for path in ("/api/v0/algorithm/denoise_3d/2", "/api/v0/algorithm/nope/1"):
        response = client.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "algorithm_not_found")


def test_list_filters(client, tmp_path):
    scope = unique_name("scope")
    specs = {"seg": dict(algorithm_type="Image2Segmentation", tags=[scope, "Seg"], supported_devices=["cpu"]),
             "gpu": dict(algorithm_type="Image2Image", tags=[scope, "fast"], supported_devices=["cpu", "gpu"]),
             "mps": dict(algorithm_type="Image2Image", tags=[scope], supported_devices=["mps"], default_device="mps")}
    for label, options in specs.items():
        deployed(client, make_algorithm_package(tmp_path, name=f"{scope}-{label}", **options))

    def names(**query) -> set[str]:
        response = client.get("/api/v0/algorithm/all", params={"positive_tag": [scope]} | query)
        assert response.status_code == 200
        return {item["algorithm_name"].rsplit("-", 1)[1] for item in response.json()}

    assert names() == {"seg", "gpu", "mps"}
    assert names(positive_tag=[scope, " seg "]) == {"seg"}  # tags match in any letter case
    assert names(negative_tag=["fast", "seg"]) == {"mps"}
    assert names(algorithm_type="image2image") == {"gpu", "mps"}
    assert names(supported_devices=["gpu", "mps"]) == {"gpu", "mps"}
    assert names(supported_devices=["tpu"]) == set()
    assert client.get("/api/v0/algorithm/all", params={"positive_tag": "no-such-tag"}).json() == []


def test_delete_versions_and_sweep_unreferenced_content(client, server, tmp_path):
    name = unique_name()
    shared = {"files/shared.bin": b"shared weights"}
    first = deployed(client, make_algorithm_package(tmp_path, name=name, removable=True, files=shared))
    deployed(client, make_algorithm_package(tmp_path, name=name, folder="v2", removable=True,
                                            files=shared | {"files/only-v2.bin": b"v2 only"}))
    other = deployed(client, make_algorithm_package(tmp_path, name=unique_name(), removable=True, files=shared))
    algorithm_id = first["algorithm_id"]

    for minor, status, code in (("9", 404, "algorithm_not_found"), ("x", 404, "algorithm_not_found")):
        response = client.delete(f"/api/v0/deploy/algorithm/{algorithm_id}", params={"algorithm_minor_version": minor})
        assert (response.status_code, response.json()["code"]) == (status, code)
    response = client.delete(f"/api/v0/deploy/algorithm/{algorithm_id}", params={"algorithm_minor_version": "1"})
    assert response.json() == {"detail": "Algorithm minor version 1 removed"}
    assert client.get(f"/api/v0/algorithm/{name}/1").json()["algorithm_minor_versions"] == ["0"]
    assert client.delete(f"/api/v0/deploy/algorithm/{algorithm_id}").json() == {"detail": "Algorithm removed"}
    assert client.get(f"/api/v0/algorithm/{name}/1").status_code == 404
    assert client.delete(f"/api/v0/deploy/algorithm/{algorithm_id}").json()["code"] == "algorithm_not_found"

    blobs = open_blob_store(server.settings)
    only_v2 = f"content/{hashlib.sha256(b'v2 only').hexdigest()}"
    shared_key = f"content/{hashlib.sha256(b'shared weights').hexdigest()}"
    housekeeper = server.actor("housekeeper")
    ray.get(housekeeper.sweep_now.remote(timestamps.now()))  # within the grace period: nothing goes
    assert asyncio.run(blobs.exists(only_v2))
    ray.get(housekeeper.sweep_now.remote(timestamps.now() + server.settings.package_content_grace_s + 60))
    assert not asyncio.run(blobs.exists(only_v2))
    assert asyncio.run(blobs.exists(shared_key))  # still used by the other algorithm
    assert client.get(f"/api/v0/algorithm/{other['algorithm_name']}/1").status_code == 200


def test_an_algorithm_that_is_not_removable_stays(client):
    denoiser = client.get("/api/v0/algorithm/denoise_3d/1").json()
    response = client.delete(f"/api/v0/deploy/algorithm/{denoiser['algorithm_id']}")
    assert (response.status_code, response.json()["code"]) == (400, "algorithm_not_removable")
    assert client.get("/api/v0/algorithm/denoise_3d/1").status_code == 200


def run_on(server, algorithm_id: str, minor: str | None, values: np.ndarray, tmp_path) -> list:
    """Load the version from the server's records and blob store into this process and execute it."""
    algorithm = load_algorithm(server.settings, algorithm_id, minor, None, "cpu")
    try:
        with LocalRunContext(tmp_path / f"{algorithm_id}-{minor}", parameters=algorithm.with_defaults({})) as context:
            output_ids = algorithm.execute(context, [context.add_item(data=values)])
            return [context.read_item(file_id) for file_id in output_ids]
    finally:
        algorithm.close()


def test_export_redeploys_with_identical_behaviour(client, server, tmp_path):
    original = deployed(client, API_TOUR)
    response = client.get("/api/v0/algorithm/API_TOUR/2/export")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="api_tour_v2.zip"'
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names == sorted(names) and {"Runner.py", "pyproject.toml", "files/model.txt",
                                       "tour_helpers/arithmetic.py"} <= set(names)
    again = client.get("/api/v0/algorithm/api_tour/2/export",
                       params={"algorithm_minor_version": original["algorithm_minor_version"]})
    assert again.content == response.content  # the same bytes every time

    as_zip = {"Content-Type": "application/zip"}
    copy = client.post("/api/v0/deploy", content=response.content, headers=as_zip,
                       params={"algorithm_name": unique_name("copy"), "removable": "true"}).json()
    assert copy["algorithm_id"] != original["algorithm_id"]
    same = client.post("/api/v0/deploy", content=response.content, headers=as_zip).json()
    assert same == original  # the export is the same content: redeploying it changes nothing
    values = np.arange(5, dtype=np.float64)
    outputs = [run_on(server, deployed_["algorithm_id"], None, values, tmp_path) for deployed_ in (original, copy)]
    np.testing.assert_array_equal(outputs[0][0]["data"], values + 1.0)
    np.testing.assert_array_equal(outputs[0][0]["data"], outputs[1][0]["data"])


def test_export_errors(client, tmp_path):
    name = unique_name()
    deployed(client, make_algorithm_package(tmp_path, name=name, exportable=False))
    cases = [(f"/api/v0/algorithm/{name}/1/export", {}, 403, "algorithm_not_exportable"),
             ("/api/v0/algorithm/nope/1/export", {}, 404, "algorithm_not_found"),
             ("/api/v0/algorithm/api_tour/2/export", {"algorithm_minor_version": "77"}, 404, "minor_version_not_found"),
             ("/api/v0/algorithm/api_tour/2/export", {"checkpoint_id": "0" * 36}, 404, "checkpoint_not_found")]
    deployed(client, API_TOUR)
    for path, params, status, code in cases:
        response = client.get(path, params=params)
        assert (response.status_code, response.json()["code"]) == (status, code), path


def test_loader_runs_each_minor_version_side_by_side(client, server, tmp_path):
    name = unique_name()
    runner = ("import numpy as np\nfrom compox.algorithm_utils.BaseRunner import BaseRunner\n"
              "from compox.algorithm_utils.io_schemas import GenericSchema\nfrom utils import VALUE\n"
              "class Runner(BaseRunner):\n"
              "    def preprocess(self, d, a=None): return d\n"
              "    def inference(self, d, a=None): return VALUE\n"
              "    def postprocess(self, d, a=None): return self.post_data([{'data': np.array([d])}], GenericSchema)\n")
    ids = [deployed(client, make_algorithm_package(tmp_path, name=name, folder=f"v{value}", runner=runner,
                                                   files={"utils.py": f"VALUE = {value}\n"}))
           for value in (10, 20)]
    assert [entry["algorithm_minor_version"] for entry in ids] == ["0", "1"]
    loaded = [load_algorithm(server.settings, ids[0]["algorithm_id"], minor, None, "cpu") for minor in ("0", "1", None)]
    try:
        results = []
        for algorithm in loaded:
            with LocalRunContext(tmp_path / f"run-{algorithm.minor}-{len(results)}") as context:
                results.append(context.read_item(algorithm.execute(context, [])[0])["data"].tolist())
        assert results == [[10], [20], [20]]
        assert [algorithm.minor for algorithm in loaded] == ["0", "1", "1"]
    finally:
        for algorithm in loaded:
            algorithm.close()
    with pytest.raises(CompoxError) as raised:
        load_algorithm(server.settings, ids[0]["algorithm_id"], "5", None, "cpu")
    assert raised.value.code == "algorithm_not_found"
    assert deploy(client, tmp_path / "v10").status_code == 200  # v10 again: older content is a new minor
    assert client.get(f"/api/v0/algorithm/{name}/1").json()["algorithm_minor_versions"] == ["0", "1", "2"]


def test_export_and_load_with_a_checkpoint_of_a_training(client, server, tmp_path):
    """A training of api_tour saves checkpoints of files/model.txt; export and load swap them in."""
    tour = deployed(client, API_TOUR)
    file_ids = [client.post("/api/v0/files", content=hdf5_bytes(data=np.full(3, value))).json()["file_id"]
                for value in (1.0, 2.0)]
    sample_id = client.post("/api/v0/sample", json={"files": [{"input": file_ids[:1], "target": file_ids[1:]}]}
                            ).json()["sample_id"]
    training_id = client.post("/api/v0/train-algorithm", json={
        "algorithm_id": tour["algorithm_id"], "training_data": [sample_id],
        "additional_parameters": {"epochs": 2}}).json()["training_id"]
    deadline = time.monotonic() + 180
    while (record := client.get(f"/api/v0/training/{training_id}").json())["status"] not in (
            "COMPLETED", "FAILED", "STOPPED") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert record["status"] == "COMPLETED", record["log"]
    checkpoint_id = record["output_checkpoint_ids"][-1]

    exported = client.get("/api/v0/algorithm/api_tour/2/export", params={"checkpoint_id": checkpoint_id})
    assert exported.status_code == 200, exported.text
    assert zipfile.ZipFile(io.BytesIO(exported.content)).read("files/model.txt") == b"model-epoch-2\n"

    algorithm = load_algorithm(server.settings, tour["algorithm_id"], None, checkpoint_id, "cpu")
    try:
        assert algorithm.runner.model_text == "model-epoch-2" and algorithm.checkpoint_id == checkpoint_id
    finally:
        algorithm.close()
    other = client.get("/api/v0/algorithm/denoise_3d/1/export", params={"checkpoint_id": checkpoint_id})
    assert (other.status_code, other.json()["code"]) == (422, "checkpoint_algorithm_mismatch")
