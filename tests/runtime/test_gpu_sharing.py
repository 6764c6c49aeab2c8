"""Fractional GPUs on a cluster with one logical GPU (the only tests that need one): a server joined
to a Ray head an operator started, as `compox-ray serve --address` does. The GPU runner replica
takes half of the GPU; trainings share the rest."""

from __future__ import annotations

import httpx
import pytest

from tests.factories.hdf5_files import hdf5_bytes, read_hdf5
from tests.runtime.conftest import PACKAGES, deploy, execute, upload_slices, wait_for
from tests.runtime.test_executions import volume
from tests.runtime.test_trainings import train, wait_training
from tests.servers import RayHead

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gpu_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gpu")
    head = RayHead(directory)
    try:
        server = head.server(directory / "data")
        yield server
        server.stop()
    finally:
        head.stop()


@pytest.fixture(scope="module")
def client(gpu_server):
    with httpx.Client(base_url=gpu_server.url, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def algorithms(client) -> dict[str, str]:
    return {name: deploy(client, PACKAGES / name) for name in ("scaler", "session_counter")}


@pytest.fixture(scope="module")
def sample_id(client) -> str:
    files = [client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"] for _ in range(2)]
    return client.post("/api/v0/sample", json={"files": [{"input": [files[0]], "target": [files[1]]}]}).json()[
        "sample_id"]


def test_root_reports_the_logical_gpu(client):
    body = client.get("/").json()
    assert body["cuda_available"] is True and body["cuda_capable_devices_count"] == 1


def test_four_trainings_share_the_gpu_and_a_fifth_waits_saying_why(client, algorithms, sample_id):
    """The package asks for 0.125 GPU; beside the GPU runner's 0.5 of the one logical GPU, four fit."""
    slow = {"steps": 1, "delay_s": 8.0}  # long enough that worker start-up skew cannot hide the overlap
    training_ids = [train(client, algorithms["scaler"], [sample_id], additional_parameters=slow) for _ in range(5)]
    records = [wait_training(client, training_id, timeout_s=180) for training_id in training_ids]
    assert all(r["status"] == "COMPLETED" for r in records), [r["log"] for r in records]
    by_start = sorted(records, key=lambda r: client.get(
        f"/api/v0/checkpoint/{r['output_checkpoint_ids'][0]}").json()["properties"]["started"])
    intervals = [(p["started"], p["ended"]) for p in (
        client.get(f"/api/v0/checkpoint/{r['output_checkpoint_ids'][0]}").json()["properties"] for r in by_start)]
    first_four, fifth = intervals[:4], intervals[4]
    assert max(start for start, _ in first_four) < min(end for _, end in first_four)  # all four overlapped
    assert fifth[0] >= min(end for _, end in first_four) - 0.5  # the fifth waited for a share
    assert "waiting for resources: GPU 0.125 (GPU 0 free on the cluster)" in by_start[4]["log"]


def test_stop_while_pending_never_starts(client, algorithms, sample_id):
    slow = {"steps": 1, "delay_s": 3.0}
    busy = [train(client, algorithms["scaler"], [sample_id], additional_parameters=slow) for _ in range(4)]
    queued = train(client, algorithms["scaler"], [sample_id], additional_parameters=slow)
    assert client.get(f"/api/v0/training/{queued}").json()["status"] == "PENDING"
    client.post(f"/api/v0/training/{queued}/stop")
    assert client.get(f"/api/v0/training/{queued}").json()["status"] == "STOPPED"
    for training_id in busy:
        assert wait_training(client, training_id, timeout_s=120)["status"] == "COMPLETED"
    record = client.get(f"/api/v0/training/{queued}").json()
    assert record["status"] == "STOPPED" and "Started on" not in record["log"]


def test_sessions_follow_the_token_across_replicas(client, algorithms):
    """The second run goes to the GPU runner deployment (another replica, another process)."""
    inputs = upload_slices(client, volume(1))
    first = wait_for(client, execute(client, algorithms["session_counter"], inputs))
    token = first["session_token"]
    second = wait_for(client, execute(client, algorithms["session_counter"], inputs,
                                      session_token=token, execution_device_override="gpu"))
    assert (first["status"], second["status"]) == ("COMPLETED", "COMPLETED")

    def replica(record):
        return record["log"].split(" by ", 1)[1].split(".", 1)[0]

    assert replica(first) != replica(second)
    assert second["resolved_execution_device"].startswith("cpu@")  # a logical GPU has no CUDA device
    counts = [read_hdf5(client.get(f"/api/v0/files/{r['output_dataset_ids'][0]}").content)["image"].max()
              for r in (first, second)]
    assert counts == [1, 2]
    # An unknown token starts an empty session under that token.
    fresh = wait_for(client, execute(client, algorithms["session_counter"], inputs, session_token="my-own-token"))
    assert fresh["session_token"] == "my-own-token"
    assert read_hdf5(client.get(f"/api/v0/files/{fresh['output_dataset_ids'][0]}").content)["image"].max() == 1
