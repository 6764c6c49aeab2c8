"""The training workflow on real Ray: samples -> train (fractional-GPU tasks) -> checkpoints with
tags and lineage -> execute and export with a checkpoint; stop, failures, a killed worker."""

from __future__ import annotations

import io
import os
import signal
import time
import zipfile

import numpy as np
import pytest

from compox_ray import ids
from tests.factories.hdf5_files import hdf5_bytes, read_hdf5
from tests.runtime.conftest import TERMINAL, execute, read_events, upload_slices, wait_for, wait_for_record
from tests.servers import wait_until


@pytest.fixture(scope="module")
def client(local_server):
    with local_server.client() as http:
        yield http


@pytest.fixture(scope="module")
def sample_id(client) -> str:
    files = [client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"] for _ in range(2)]
    response = client.post("/api/v0/sample", json={"files": [{"input": [files[0]], "target": [files[1]]}],
                                                      "tags": ["test:training"]})
    return response.json()["sample_id"]


def train(client, algorithm_id: str, samples: list[str], **request) -> str:
    response = client.post("/api/v0/train-algorithm",
                           json={"algorithm_id": algorithm_id, "training_data": samples, **request})
    assert response.status_code == 200, response.text
    return response.json()["training_id"]


def wait_training(client, training_id: str, statuses=TERMINAL, timeout_s: float = 120) -> dict:
    return wait_for_record(client, f"/api/v0/training/{training_id}", statuses, timeout_s)


def test_lineage_over_two_generations_then_execute_and_export(client, algorithms, sample_id):
    first = wait_training(client, train(client, algorithms["scaler"], [sample_id], tags=[" Experiment:42 ", "author:me"],
                                        additional_parameters={"factor": 2.0}))
    assert first["status"] == "COMPLETED", first["log"]
    assert first["time_completed"] and first["progress"] == 1.0
    assert first["additional_parameters"] == {"factor": 2.0, "steps": 3, "delay_s": 0.0, "mode": "ok"}
    assert first["state"]["step"] == 3
    (parent_id,) = first["output_checkpoint_ids"]
    parent = client.get(f"/api/v0/checkpoint/{parent_id}").json()
    assert parent["training_id"] == first["training_id"]
    assert parent["parent_algorithm_id"] == algorithms["scaler"]
    assert parent["parent_checkpoint_id"] is None
    assert parent["tags"] == ["experiment:42", "author:me"]
    assert parent["properties"]["factor"] == 2.0 and parent["properties"]["files"] == 2

    second = wait_training(client, train(client, algorithms["scaler"], [sample_id], checkpoint_id=parent_id,
                                         additional_parameters={"factor": 3.0}))
    assert second["status"] == "COMPLETED", second["log"]
    assert "starting from factor 2.0" in second["log"]  # trained from the parent's assets
    (child_id,) = second["output_checkpoint_ids"]
    assert client.get(f"/api/v0/checkpoint/{child_id}").json()["parent_checkpoint_id"] == parent_id
    listed = {c["checkpoint_id"] for c in client.get("/api/v0/checkpoint/all",
                                                      params={"positive_tags": ["EXPERIMENT:42"]}).json()}
    assert parent_id in listed and child_id not in listed
    assert client.get("/api/v0/checkpoint/all", params={"positive_tags": ["no:such"]}).json() == []

    volume = np.random.default_rng(3).random((2, 8, 8), dtype=np.float32)
    inputs = upload_slices(client, volume)
    for checkpoint_id, factor in ((None, 1.0), (parent_id, 2.0), (child_id, 3.0)):
        record = wait_for(client, execute(client, algorithms["scaler"], inputs, checkpoint_id=checkpoint_id))
        assert record["status"] == "COMPLETED", record["log"]
        assert record["checkpoint_id"] == checkpoint_id
        result = read_hdf5(client.get(f"/api/v0/files/{record['output_dataset_ids'][0]}").content)["image"]
        np.testing.assert_allclose(result, volume[0] * factor, rtol=1e-6)

    algorithm = client.get("/api/v0/algorithm/all").json()
    name = next(a["algorithm_name"] for a in algorithm if a["algorithm_id"] == algorithms["scaler"])
    exported = client.get(f"/api/v0/algorithm/{name}/1/export", params={"checkpoint_id": child_id})
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert archive.read("files/factor.txt") == b"3.0"
        assert "Runner.py" in archive.namelist()

    assert client.delete(f"/api/v0/checkpoint/{child_id}").status_code == 200
    assert client.get(f"/api/v0/checkpoint/{child_id}").json()["code"] == "checkpoint_not_found"
    response = client.post("/api/v0/execute-algorithm", json={
        "algorithm_id": algorithms["scaler"], "input_dataset_ids": inputs, "checkpoint_id": child_id})
    assert (response.status_code, response.json()["code"]) == (404, "checkpoint_not_found")


@pytest.mark.parametrize("mode, message", [
    ("raise", "deliberate training failure"),
    ("unknown_asset", "files/not_an_asset.bin"),
    ("no_checkpoint", "without saving a checkpoint"),
])
def test_failing_trainings_end_failed_and_never_show_completed(client, algorithms, sample_id, mode, message):
    training_id = train(client, algorithms["scaler"], [sample_id], additional_parameters={"mode": mode})
    statuses = [event["record"]["status"] for event in read_events(client, f"/api/v0/training/{training_id}/events")]
    assert statuses[-1] == "FAILED" and "COMPLETED" not in statuses
    record = client.get(f"/api/v0/training/{training_id}").json()
    assert message in record["log"]
    assert record["output_checkpoint_ids"] == [] and record["progress"] == 1.0


def test_stop_while_running(client, algorithms, sample_id):
    training_id = train(client, algorithms["scaler"], [sample_id],
                        additional_parameters={"steps": 100000, "delay_s": 0.01})
    wait_training(client, training_id, {"RUNNING"})
    assert client.post(f"/api/v0/training/{training_id}/stop").json() == {"detail": "Stop request posted successfully"}
    record = wait_training(client, training_id, timeout_s=15)
    assert record["status"] == "STOPPED" and record["output_checkpoint_ids"] == []
    again = client.post(f"/api/v0/training/{training_id}/stop")
    assert (again.status_code, again.json()["code"]) == (400, "training_not_stoppable")


def test_stop_cancels_a_training_that_never_reports(client, algorithms, sample_id):
    training_id = train(client, algorithms["scaler"], [sample_id],
                        additional_parameters={"mode": "sleep_silently", "steps": 1, "delay_s": 60})
    wait_until(lambda: client.get(f"/api/v0/training/{training_id}").json()["state"].get("pid"), 60, what="running")
    started = time.monotonic()
    client.post(f"/api/v0/training/{training_id}/stop")
    record = wait_training(client, training_id, timeout_s=30)
    assert record["status"] == "STOPPED"
    assert time.monotonic() - started < 20  # the cancel, not the 60 s sleep, ended it


def test_a_killed_worker_fails_the_training_without_retry(client, algorithms, sample_id):
    training_id = train(client, algorithms["scaler"], [sample_id],
                        additional_parameters={"steps": 100000, "delay_s": 0.05})
    pid = wait_until(lambda: client.get(f"/api/v0/training/{training_id}").json()["state"].get("pid"), 60,
                     what="the worker's pid")
    os.kill(pid, signal.SIGKILL)
    record = wait_training(client, training_id, timeout_s=30)
    assert record["status"] == "FAILED" and "lost" in record["log"]
    time.sleep(2)  # no retry: nothing runs it again
    again = client.get(f"/api/v0/training/{training_id}").json()
    assert again["status"] == "FAILED" and again["output_checkpoint_ids"] == []


@pytest.mark.parametrize("change, code", [
    ({"training_data": ["00000000-0000-4000-8000-000000000000"]}, "input_samples_not_found"),
    ({"algorithm_id": "no-such-algorithm"}, "algorithm_not_found"),
    ({"checkpoint_id": "00000000-0000-4000-8000-000000000000"}, "checkpoint_not_found"),
    ({"additional_parameters": {"steps": 0}}, "invalid_parameters"),
])
def test_bad_training_requests(client, algorithms, sample_id, change, code):
    body = {"algorithm_id": algorithms["scaler"], "training_data": [sample_id]} | change
    response = client.post("/api/v0/train-algorithm", json=body)
    assert 400 <= response.status_code < 500 and response.json()["code"] == code


def test_a_training_that_can_never_fit_ends_failed_at_once(client, tmp_path):
    from tests.api.algorithm_packages import deployed, unique_name
    from tests.factories.packages import make_algorithm_package

    package = make_algorithm_package(tmp_path, name=unique_name(), training_resources={"num_cpus": 1000})
    algorithm_id = deployed(client, package)["algorithm_id"]
    sample = client.post("/api/v0/sample", json={"files": [{"input": [
        client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"]]}]}).json()["sample_id"]
    record = client.get(f"/api/v0/training/{train(client, algorithm_id, [sample])}").json()
    assert record["status"] == "FAILED", record  # already when the POST has answered
    assert "can never start" in record["log"] and "CPU 1000" in record["log"]


def test_unknown_trainings_are_404(client):
    assert client.get(f"/api/v0/training/{ids.new_id()}").json()["code"] == "training_record_not_found"
    assert client.post(f"/api/v0/training/{ids.new_id()}/stop").status_code == 404


def test_the_bundled_unet_learns_to_denoise(client):
    """Samples of noisy/clean volumes -> training on Ray -> a checkpoint whose validation loss is at
    most half the initial one, and which denoises a held-out volume better than the shipped weights."""
    from tests.algorithms.test_bundled_algorithms import mse, spheres

    unet = next(a for a in client.get("/api/v0/algorithm/all").json() if a["algorithm_name"] == "unet3d_denoiser")
    samples = []
    for seed in (20, 21, 22):
        clean, noisy = spheres(seed, shape=(24, 24, 24), noise=0.4)
        files = [{"input": upload_slices(client, noisy),
                  "target": [client.post("/api/v0/files", content=hdf5_bytes(volume=clean)).json()["file_id"]]}]
        samples.append(client.post("/api/v0/sample", json={"files": files, "tags": ["unet"]}).json()["sample_id"])
    record = wait_training(client, train(client, unet["algorithm_id"], samples, tags=["unet"],
                                         additional_parameters={"epochs": 8, "steps_per_epoch": 8}), timeout_s=600)
    assert record["status"] == "COMPLETED", record["log"]
    properties = client.get(f"/api/v0/checkpoint/{record['output_checkpoint_ids'][0]}").json()["properties"]
    assert properties["validation_loss"] <= properties["initial_validation_loss"] / 2, properties

    clean, noisy = spheres(99, shape=(24, 24, 24), noise=0.4)  # held out
    inputs = upload_slices(client, noisy)
    outputs = {}
    for checkpoint_id in (None, record["output_checkpoint_ids"][0]):
        result = wait_for(client, execute(client, unet["algorithm_id"], inputs, checkpoint_id=checkpoint_id),
                          timeout_s=120)
        assert result["status"] == "COMPLETED", result["log"]
        outputs[checkpoint_id] = np.stack([read_hdf5(client.get(f"/api/v0/files/{f}").content)["image"]
                                           for f in result["output_dataset_ids"]])
    untrained, trained = outputs.values()
    assert mse(trained, clean) < mse(untrained, clean) / 2
