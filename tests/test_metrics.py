"""Operator metrics: after a few executions, Ray's metrics export of this node (Prometheus text)
holds compox_ray's metrics beside Serve's own."""

from __future__ import annotations

import re

import httpx
import numpy as np
import ray

from tests.factories.hdf5_files import hdf5_bytes
from tests.servers import wait_until

TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}


def scrape() -> str:
    port = ray._private.worker.global_worker.node.metrics_export_port
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def samples(text: str, name: str) -> list[tuple[dict, float]]:
    """(labels, value) of every sample of the metric ``name`` (exact name, any labels)."""
    found = []
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1) or ""))
            found.append((labels, float(match.group(2))))
    return found


def total(text: str, name: str, **labels) -> float:
    return sum(value for found, value in samples(text, name) if labels.items() <= found.items())


def test_metrics_are_exported_after_a_few_executions(local_server):
    with local_server.client() as client:
        algorithm_id = client.get("/api/v0/algorithm/threshold_segmentation/1").json()["algorithm_id"]
        file_id = client.post("/api/v0/files", content=hdf5_bytes(image=np.random.default_rng(5).random((8, 8), dtype=np.float32))).json()["file_id"]
        before = scrape()
        for _ in range(3):
            execution_id = client.post("/api/v0/execute-algorithm", json={
                "algorithm_id": algorithm_id, "input_dataset_ids": [file_id]}).json()["execution_id"]
            record = wait_until(lambda: (found := client.get(f"/api/v0/executions/{execution_id}").json())["status"]
                                in TERMINAL and found, 120, interval_s=0.05, what="execution ended")
            assert record["status"] == "COMPLETED", record["log"]
        assert client.get(f"/api/v0/files/{file_id}").status_code == 200

    finished = "ray_compox_runs_finished_total"
    completed_before = total(before, finished, kind="execution", status="COMPLETED")
    runs_before = total(before, "ray_compox_run_seconds_count", kind="execution", algorithm="threshold_segmentation")

    def unmet(text: str) -> list[str]:
        """The expectations the scrape does not meet yet (each process reports every few seconds)."""
        checks = {
            "3 more COMPLETED": total(text, finished, kind="execution", status="COMPLETED") >= completed_before + 3,
            "run time per algorithm": total(text, "ray_compox_run_seconds_count", kind="execution",
                                            algorithm="threshold_segmentation") >= runs_before + 3,
            "time in queue": total(text, "ray_compox_queue_wait_seconds_count", kind="execution") >= 3,
            "warm-model hits and misses": total(text, "ray_compox_warm_model_total", result="hit")
            + total(text, "ray_compox_warm_model_total", result="miss") >= 3,
            "bytes uploaded": total(text, "ray_compox_transfer_bytes_total", direction="upload") > 0,
            "bytes downloaded": total(text, "ray_compox_transfer_bytes_total", direction="download") > 0,
            "record writes": total(text, "ray_compox_records_seconds_count", operation="write") > 0,
            "record reads": total(text, "ray_compox_records_seconds_count", operation="read") > 0,
            "runs by status": bool(samples(text, "ray_compox_runs")),
            "queue length": bool(samples(text, "ray_compox_queue_length")),
            "Serve's own": any(line.startswith("ray_serve_") for line in text.splitlines()),
        }
        return [name for name, met in checks.items() if not met]

    latest = {}

    def all_exported() -> bool:
        latest["text"] = scrape()
        return not unmet(latest["text"])

    try:
        wait_until(all_exported, 90, interval_s=1, what="compox metrics exported")
    except TimeoutError:
        pass
    assert unmet(latest["text"]) == []
