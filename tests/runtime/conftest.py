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


def upload_slices(client: httpx.Client, volume, key: str = "image") -> list[str]:
    """Compox's image convention: one 2-D slice per file under key ``image`` (``mask`` for masks)."""
    return [client.post("/api/v0/files", content=hdf5_bytes(**{key: plane})).json()["file_id"] for plane in volume]


def execute(client: httpx.Client, algorithm_id: str, inputs: list[str], **request) -> str:
    response = client.post("/api/v0/execute-algorithm",
                           json={"algorithm_id": algorithm_id, "input_dataset_ids": inputs, **request})
    assert response.status_code == 200, response.text
    return response.json()["execution_id"]


def wait_for_record(client: httpx.Client, path: str, statuses=TERMINAL, timeout_s: float = 60) -> dict:
    """Poll an execution or training record until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = client.get(path).json()
        if record["status"] in statuses:
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} still {record['status']} after {timeout_s} s: {record}")
        time.sleep(0.02)


def wait_for(client: httpx.Client, execution_id: str, statuses=TERMINAL, timeout_s: float = 60) -> dict:
    return wait_for_record(client, f"/api/v0/executions/{execution_id}", statuses, timeout_s)


@pytest.fixture(scope="session")
def algorithms(local_server) -> dict[str, str]:
    with local_server.client() as client:
        return {folder.name: deploy(client, folder) for folder in sorted(PACKAGES.iterdir()) if folder.is_dir()}


@pytest.fixture(scope="session")
def s3_algorithms(s3_app_server) -> dict[str, str]:
    with s3_app_server.client() as client:
        return {name: deploy(client, PACKAGES / name) for name in ("invert",)}


@pytest.fixture(params=["local", "s3"])
def runtime(request):
    """(server, client, algorithm ids): tests that take it run on the local and the S3 store."""
    server = request.getfixturevalue("local_server" if request.param == "local" else "s3_app_server")
    algorithms = request.getfixturevalue("algorithms" if request.param == "local" else "s3_algorithms")
    with server.client() as client:
        yield server, client, algorithms


def read_events(client: httpx.Client, path: str, last_event_id: int | None = None,
                timeout_s: float = 120) -> list[dict]:
    """A whole server-sent event stream as [{"id", "record"}], failing if it has not ended in time."""
    import json

    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    deadline = time.monotonic() + timeout_s
    events, event = [], {}
    with client.stream("GET", path, headers=headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} still streaming after {timeout_s} s: {events[-1:]}")
            if line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("data: "):
                event["record"] = json.loads(line[6:])
            elif line == "" and event:
                events.append(event)
                event = {}
    return events
