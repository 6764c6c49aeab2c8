"""Benchmarks (POST /api/v0/benchmark-algorithm, GET /api/v0/benchmarks/{id}) on both stores:
a package's Runner.benchmark run on the runners, its report checked against benchmark_outputs."""

from __future__ import annotations

import time

import pytest

from compox_ray import ids
from tests.api.algorithm_packages import deployed, unique_name
from tests.factories.packages import make_algorithm_package

TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}
BENCHMARK_FIELDS = {"benchmark_id", "algorithm_id", "additional_parameters", "status", "progress", "time_started",
                    "time_completed", "log", "data"}


def bundled_algorithm_id(client, name: str) -> str:
    return client.get(f"/api/v0/algorithm/{name}/1").json()["algorithm_id"]


def run_benchmark(client, algorithm_id: str, **request) -> dict:
    """Submit and poll to the end; every poll that sees COMPLETED must see the data too."""
    response = client.post("/api/v0/benchmark-algorithm", json={"algorithm_id": algorithm_id, **request})
    assert response.status_code == 200, response.text
    benchmark_id = response.json()["benchmark_id"]
    deadline = time.monotonic() + 120
    while True:
        record = client.get(f"/api/v0/benchmarks/{benchmark_id}").json()
        assert BENCHMARK_FIELDS <= record.keys(), record
        if record["status"] == "COMPLETED":
            assert record["data"], record  # written with COMPLETED, never after it
        if record["status"] in TERMINAL:
            return record
        assert record["data"] == {} and record["time_completed"] == ""
        assert time.monotonic() < deadline, record
        time.sleep(0.05)


def test_a_bundled_package_is_benchmarked_on_the_runners(client):
    algorithm_id = bundled_algorithm_id(client, "denoise_3d")
    record = run_benchmark(client, algorithm_id, additional_parameters={"tv_iterations": 10})
    assert record["status"] == "COMPLETED", record["log"]
    assert set(record["data"]) == {"gaussian_seconds_per_megavoxel", "tv_seconds_per_megavoxel"}
    assert all(isinstance(value, float) and value > 0 for value in record["data"].values())
    assert record["progress"] == 1.0 and record["time_completed"]
    assert record["additional_parameters"]["tv_iterations"] == 10  # with the defaults of the others
    assert record["additional_parameters"]["sigma"] == 1.0
    assert "Started on cpu@" in record["log"] and "Starting benchmark." in record["log"]
    # A benchmark is not an execution, nor the other way round.
    assert client.get(f"/api/v0/executions/{record['benchmark_id']}").json()["code"] == "execution_record_not_found"
    listed = client.get("/api/v0/execute-algorithm/all", params={"algorithm_id": algorithm_id}).json()
    assert record["benchmark_id"] not in {execution["execution_id"] for execution in listed}


def test_a_package_without_benchmark_fails_with_the_reason(client):
    record = run_benchmark(client, bundled_algorithm_id(client, "threshold_segmentation"))
    assert record["status"] == "FAILED"
    assert "has no benchmark" in record["log"]
    assert record["data"] == {}


@pytest.mark.parametrize("reported, reason", [
    ("{'latency_s': 'fast'}", "must be a float"),
    ("{}", "did not report 'latency_s'"),
    ("{'latency_s': 0.1, 'extra': 1}", "'extra', which benchmark_outputs does not declare"),
    ("[0.1]", "must return a dict"),
])
def test_a_report_that_does_not_match_benchmark_outputs_fails(client, tmp_path, reported, reason):
    runner = ("from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner\n\n\n"
              "class Runner(Image2ImageRunner):\n"
              "    def inference(self, data, args=None):\n        return data\n\n"
              f"    def benchmark(self, args=None):\n        return {reported}\n")
    outputs = [{"name": "latency_s", "description": "seconds", "config": {"type": "float", "default": 0.0}}]
    folder = make_algorithm_package(tmp_path, name=unique_name("bench"), runner=runner, benchmark_outputs=outputs,
                                    removable=True)
    algorithm_id = deployed(client, folder)["algorithm_id"]
    try:
        record = run_benchmark(client, algorithm_id)
        assert record["status"] == "FAILED"
        assert reason in record["log"], record["log"]
    finally:
        client.delete(f"/api/v0/deploy/algorithm/{algorithm_id}")


def test_benchmark_requests_are_checked(client):
    algorithm_id = bundled_algorithm_id(client, "denoise_3d")
    unknown = client.post("/api/v0/benchmark-algorithm", json={"algorithm_id": ids.new_id()})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "algorithm_not_found")
    bad = client.post("/api/v0/benchmark-algorithm", json={"algorithm_id": algorithm_id,
                                                             "additional_parameters": {"sigma": 99.0}})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_parameters")
    for benchmark_id in (ids.new_id(), "x" * 500):
        missing = client.get(f"/api/v0/benchmarks/{benchmark_id}")
        assert (missing.status_code, missing.json()["code"]) == (404, "benchmark_record_not_found")
