"""Faults on a server of its own (a child process): a runner replica that dies, a full restart.
No execution is ever left PENDING, STARTED or RUNNING."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from tests.runtime.conftest import PACKAGES, deploy, execute, upload_slices, wait_for
from tests.servers import ServerProcess

pytestmark = pytest.mark.slow
ACTIVE = {"PENDING", "STARTED", "RUNNING"}


def test_a_dying_replica_fails_its_execution_and_the_next_one_runs(tmp_path):
    server = ServerProcess(tmp_path / "data", {"COMPOX_RAY_LEASE_S": "3"})
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            exiter, invert = deploy(client, PACKAGES / "exiter"), deploy(client, PACKAGES / "invert")
            inputs = upload_slices(client, np.ones((1, 4, 4), np.float32))
            started = time.monotonic()
            record = wait_for(client, execute(client, exiter, inputs), timeout_s=10)
            assert record["status"] == "FAILED" and "runner lost" in record["log"]
            assert time.monotonic() - started < 10
            # Serve replaces the replica; the next execution is fine.
            assert wait_for(client, execute(client, invert, inputs), timeout_s=90)["status"] == "COMPLETED"
    finally:
        server.stop()


def test_after_a_full_restart_nothing_stays_active(tmp_path):
    data_dir = tmp_path / "data"
    env = {"COMPOX_RAY_LEASE_S": "3"}
    server = ServerProcess(data_dir, env)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            slow = deploy(client, PACKAGES / "slow_steps")
            inputs = upload_slices(client, np.ones((1, 4, 4), np.float32))
            running = [execute(client, slow, inputs, additional_parameters={"steps": 100000, "delay_s": 0.01})
                       for _ in range(2)]
            for execution_id in running:
                wait_for(client, execution_id, {"RUNNING"})
            # The replica takes two at a time: this one waits in the queue.
            queued = execute(client, slow, inputs, additional_parameters={"steps": 2, "delay_s": 0.01})
            assert client.get(f"/api/v0/executions/{queued}").json()["status"] == "PENDING"
    finally:
        assert server.stop() == 0

    server = ServerProcess(data_dir, env)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            # Queued work is resubmitted and runs; work that was running when the server went ends FAILED.
            assert wait_for(client, queued, timeout_s=90)["status"] == "COMPLETED"
            for execution_id in running:
                record = wait_for(client, execution_id, timeout_s=30)
                assert record["status"] == "FAILED" and "lost" in record["log"], record["log"]
            assert not [r for r in client.get("/api/v0/executions").json() if r["status"] in ACTIVE]
    finally:
        server.stop()
