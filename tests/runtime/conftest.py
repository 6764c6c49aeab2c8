"""Test algorithm packages (tests/runtime/packages/), deployed once per session per server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from compox_ray.client import zip_folder
from tests.factories.hdf5_files import hdf5_bytes

PACKAGES = Path(__file__).parent / "packages"
TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}


def deploy(client: httpx.Client, folder: Path) -> str:
    response = client.post("/api/v0/deploy", content=zip_folder(folder),
                           headers={"Content-Type": "application/zip"})
    assert response.status_code == 200, response.text
    return response.json()["algorithm_id"]


def upload_slices(client: httpx.Client, volume) -> list[str]:
    """Compox's image convention: one 2-D slice per file under key ``image``."""
    return [client.post("/api/v0/files", content=hdf5_bytes(image=plane)).json()["file_id"] for plane in volume]


def execute(client: httpx.Client, algorithm_id: str, inputs: list[str], **request) -> str:
    response = client.post("/api/v0/execute-algorithm",
                           json={"algorithm_id": algorithm_id, "input_dataset_ids": inputs, **request})
    assert response.status_code == 200, response.text
    return response.json()["execution_id"]


def wait_for(client: httpx.Client, execution_id: str, statuses=TERMINAL, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        record = client.get(f"/api/v0/executions/{execution_id}").json()
        if record["status"] in statuses:
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_id} still {record['status']} after {timeout_s} s: {record}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def algorithms(local_server) -> dict[str, str]:
    with local_server.client() as client:
        return {folder.name: deploy(client, folder) for folder in sorted(PACKAGES.iterdir()) if folder.is_dir()}


@pytest.fixture(scope="session")
def s3_algorithms(s3_app_server) -> dict[str, str]:
    with s3_app_server.client() as client:
        return {name: deploy(client, PACKAGES / name) for name in ("invert",)}
