"""schemathesis over the whole OpenAPI schema: no request answers 5xx, and every answer matches the
schema the route declares. It fuzzes delete and deploy routes too, so it runs against an app of its
own (own instance, route prefix and data_dir) on the session's Serve, which must still be healthy
afterwards. A few real records (tests/api/schemathesis_hooks.py) take it past the 404s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.own_apps import remove_own_app, run_own_app
from tests.runtime.conftest import PACKAGES, deploy, execute, upload_slices, wait_for

REPOSITORY = Path(__file__).resolve().parents[2]
MIN_REQUESTS = 1000
TIME_BUDGET_S = 180


@pytest.fixture(scope="module")
def fuzzed(serve_port, tmp_path_factory):
    server = run_own_app("fuzz", serve_port, tmp_path_factory.mktemp("fuzz"), gpu_runners=False, algorithms_dir=None)
    yield server
    remove_own_app(server)


def seed_records(url: str) -> dict[str, list[str]]:
    """A file, a finished execution, a sample and an algorithm, by the parameter names that take them."""
    with httpx.Client(base_url=url, timeout=600) as client:
        algorithm_id = deploy(client, PACKAGES / "invert")
        pinned, free = upload_slices(client, np.ones((2, 4, 4), np.float32))
        execution_id = execute(client, algorithm_id, [free])
        assert wait_for(client, execution_id)["status"] == "COMPLETED"
        sample = client.post("/api/v0/sample", json={"files": [{"input": [pinned]}], "tags": ["fuzz"]})
    return {"algorithm_id": [algorithm_id], "file_id": [free, pinned], "execution_id": [execution_id],
            "sample_id": [sample.json()["sample_id"]], "algorithm_name": ["test_invert"],
            "algorithm_major_version": ["1"]}


def requests_sent(report_dir: Path) -> int:
    """Every request schemathesis sent, from its NDJSON event report."""
    sent = 0
    for report in report_dir.glob("*.ndjson"):
        for line in report.read_text().splitlines():
            event = json.loads(line)
            if "ScenarioFinished" in event:
                sent += len(event["ScenarioFinished"]["recorder"].get("interactions", {}))
    return sent


@pytest.mark.slow
def test_no_request_is_a_server_error_and_every_answer_matches_the_schema(fuzzed, tmp_path):
    report_dir = tmp_path / "report"
    command = [str(Path(sys.executable).with_name("schemathesis")), "--no-color", "run", f"{fuzzed.url}/openapi.json",
               "--url", fuzzed.url, "--phases", "examples,coverage,fuzzing",
               "--checks", "not_a_server_error,response_schema_conformance",
               "--max-examples", "25", "--max-time", str(TIME_BUDGET_S), "--request-timeout", "30",
               "--workers", "1",  # threads trip CPython 3.11's ast.parse in hypothesis
               "--seed", "14", "--generation-database", "none",
               "--report", "ndjson", "--report-dir", str(report_dir)]
    seeds = seed_records(fuzzed.url)
    environment = os.environ | {"SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
                                "COMPOX_RAY_FUZZ_SEEDS": json.dumps(seeds),
                                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY),
                                                                            os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True,
                         timeout=TIME_BUDGET_S + 240)
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-3000:]
    assert requests_sent(report_dir) >= MIN_REQUESTS
    health = httpx.get(f"{fuzzed.url}/api/v0/health", timeout=30)
    assert (health.status_code, health.json()["status"]) == (200, "ok")
