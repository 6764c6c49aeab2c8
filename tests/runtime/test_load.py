"""A bounded load on the test server (127.0.0.1): 32 clients for 60 s, each uploading a slice,
executing the pass-through package on it, following the execution's event stream to its end and
downloading the output with a byte check (benchmarks/load.py). It ends with no 5xx, no record lost
or left unfinished, and every output equal to its input."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load import run_load
from tests.runtime.conftest import deploy

PASSTHROUGH = Path(__file__).resolve().parents[2] / "benchmarks" / "packages" / "passthrough"
CLIENTS, SECONDS = 32, 60


@pytest.mark.slow
def test_32_clients_for_60_s_end_clean(local_server):
    with local_server.client() as client:
        algorithm_id = deploy(client, PASSTHROUGH)
    report = run_load(local_server.url, algorithm_id, clients=CLIENTS, seconds=SECONDS, follow="events")
    print(report.summary())
    assert report.server_errors == []
    assert report.failures == []
    assert report.wrong_outputs == []
    assert (report.lost, report.stuck) == ([], [])
    assert report.cycles >= CLIENTS  # every client finished at least one whole cycle
    assert len(report.execution_ids) == report.cycles
