"""A full stop and start on the same data directory keeps every file, byte for byte."""

from __future__ import annotations

import httpx
import pytest

from tests.factories.hdf5_files import hdf5_bytes
from tests.servers import ServerProcess, still_running


@pytest.mark.slow
def test_files_survive_a_full_restart(tmp_path):
    data_dir = tmp_path / "data"
    payload = hdf5_bytes()
    first = ServerProcess(data_dir)
    try:
        file_id = httpx.post(f"{first.url}/api/v0/files", content=payload).json()["file_id"]
        first_pid = httpx.get(f"{first.url}/api/v0/health").json()["records"]["pid"]
        tree = first.process_tree()
        assert any(process.name() == "raylet" for process in tree)
    finally:
        assert first.stop() == 0
    # SIGTERM stopped Ray too: no process of that instance (raylet, GCS, workers) is left behind.
    assert still_running(tree) == []

    second = ServerProcess(data_dir)
    try:
        health = httpx.get(f"{second.url}/api/v0/health").json()
        assert health["records"]["pid"] != first_pid
        response = httpx.get(f"{second.url}/api/v0/files/{file_id}")
        assert response.status_code == 200
        assert response.content == payload
    finally:
        second.stop()
