"""The server as `make run` starts it: its own Ray with the machine's CPUs (or one core) and no
logical GPU, the bundled algorithms, nothing open beyond loopback without Ray's token, and a stop
on the signals a terminal, systemd or `docker stop` send to the whole process group."""

from __future__ import annotations

import concurrent.futures
import io
import signal
import sys
import time
import zipfile
from pathlib import Path

import grpc
import httpx
import pytest

from tests.algorithms.test_bundled_algorithms import spheres
from tests.factories.hdf5_files import hdf5_bytes, read_hdf5
from tests.runtime.conftest import execute, upload_slices, wait_for, wait_for_record
from tests.servers import ServerProcess, loopback, still_running

REPOSITORY = Path(__file__).resolve().parents[1]
SERVE_REPLICA_METHOD = "/ray.serve.ASGIService/HandleRequest"
pytestmark = pytest.mark.slow


def run_seed_workflows(url: str) -> None:
    """Every workflow of the seed, with the bundled algorithms: executions (four at once), a
    sample, a training, its checkpoint, an execution and an export with that checkpoint."""
    with httpx.Client(base_url=url, timeout=60) as client:
        algorithms = {a["algorithm_name"]: a for a in client.get("/api/v0/algorithm/all").json()}
        assert {"denoise_3d", "threshold_segmentation", "unet3d_denoiser"} <= set(algorithms)
        clean, noisy = spheres(5, shape=(12, 16, 16), noise=0.3)
        inputs = upload_slices(client, noisy)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            runs = list(pool.map(lambda name: wait_for(client, execute(client, algorithms[name]["algorithm_id"],
                                                                       inputs), timeout_s=180),
                                 ["denoise_3d", "denoise_3d", "threshold_segmentation", "unet3d_denoiser"]))
        assert [run["status"] for run in runs] == ["COMPLETED"] * 4, [run["log"] for run in runs]
        assert all(len(run["output_dataset_ids"]) == len(inputs) for run in runs)
        first = read_hdf5(client.get(f"/api/v0/files/{runs[0]['output_dataset_ids'][0]}").content)["image"]
        assert first.shape == noisy[0].shape

        unet = algorithms["unet3d_denoiser"]
        target = client.post("/api/v0/files", content=hdf5_bytes(volume=clean)).json()["file_id"]
        sample = client.post("/api/v0/sample", json={"files": [{"input": inputs, "target": [target]}],
                                                     "tags": ["seed"]}).json()["sample_id"]
        response = client.post("/api/v0/train-algorithm", json={
            "algorithm_id": unet["algorithm_id"], "training_data": [sample], "tags": ["seed"],
            "additional_parameters": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "patch_size": 8}})
        assert response.status_code == 200, response.text
        training = wait_for_record(client, f"/api/v0/training/{response.json()['training_id']}", timeout_s=300)
        assert training["status"] == "COMPLETED", training["log"]
        (checkpoint_id,) = training["output_checkpoint_ids"]
        checkpoint = client.get(f"/api/v0/checkpoint/{checkpoint_id}").json()
        assert checkpoint["tags"] == ["seed"] and checkpoint["training_id"] == training["training_id"]

        trained = wait_for(client, execute(client, unet["algorithm_id"], inputs, checkpoint_id=checkpoint_id),
                           timeout_s=180)
        assert trained["status"] == "COMPLETED", trained["log"]
        exported = client.get(f"/api/v0/algorithm/unet3d_denoiser/{unet['algorithm_version']}/export",
                              params={"checkpoint_id": checkpoint_id})
        assert exported.status_code == 200, exported.text
        weights = zipfile.ZipFile(io.BytesIO(exported.content)).read("files/weights.pt")
        assert weights != (REPOSITORY / "algorithms/unet3d_denoiser/files/weights.pt").read_bytes()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("default") / "data")
    yield server
    server.stop()


def test_every_listener_is_loopback_or_refuses_callers_without_the_ray_token(default_server):
    token_file = Path(default_server.data_dir) / "ray_auth_token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    listeners = [(process.name(), conn.laddr.ip, conn.laddr.port) for process in default_server.process_tree()
                 for conn in process.net_connections(kind="inet") if conn.status == "LISTEN"]
    assert any(port == default_server.port for _, _, port in listeners)
    exposed = [listener for listener in listeners if not loopback(listener[1])]
    for name, _, port in exposed:
        # Where Ray binds every interface (Serve's replica-to-replica gRPC server), the token is
        # checked before the call reaches the replica.
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            probe = channel.unary_unary(SERVE_REPLICA_METHOD, request_serializer=bytes, response_deserializer=bytes)
            with pytest.raises(grpc.RpcError) as refused:
                probe(b"", timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, (name, port, refused.value)
            with pytest.raises(grpc.RpcError) as admitted:
                probe(b"", timeout=10, metadata=[("authorization", f"Bearer {token}")])
            assert admitted.value.code() != grpc.StatusCode.UNAUTHENTICATED, (name, port)


def test_the_seed_workflows_run_on_the_default_server(default_server):
    run_seed_workflows(default_server.url)


@pytest.mark.parametrize("command, signum, status", [
    (None, signal.SIGTERM, 0),  # compox-ray serve under systemd or `docker stop`
    (None, signal.SIGINT, 0),   # compox-ray serve, Ctrl-C in its terminal
    # make run, Ctrl-C in its terminal and a SIGTERM: make itself dies of the signal it got once
    # the server has stopped (a shell sees 130 or 143).
    (["make", "-s", "run"], signal.SIGINT, -signal.SIGINT),
    (["make", "-s", "run"], signal.SIGTERM, -signal.SIGTERM),
])
def test_a_signal_to_the_process_group_stops_everything_within_10_s(tmp_path, command, signum, status):
    if command:
        command = [*command, "-C", str(REPOSITORY), f"VENV={Path(sys.executable).parents[1]}"]
    server = ServerProcess(tmp_path / "data", command=command)
    tree = server.process_tree()
    assert len(tree) > 5  # Ray's own processes are in it
    started = time.monotonic()
    assert server.stop(timeout_s=30, signum=signum, group=True) == status
    assert time.monotonic() - started < 10
    assert still_running(tree, grace_s=1) == []


def test_a_one_core_machine_runs_every_seed_workflow(tmp_path):
    server = ServerProcess(tmp_path / "data", extra_env={"COMPOX_RAY_RAY_NUM_CPUS": "1"})
    try:
        run_seed_workflows(server.url)
    finally:
        assert server.stop() == 0
