"""With an admin token configured, deploy and delete need it (plain FastAPI, no Ray)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from compox_ray.api import deploy
from compox_ray.api.deps import get_services
from compox_ray.api.errors import install_error_handlers
from compox_ray.settings import Settings


class RecordingAlgorithms:
    """Stands in for AlgorithmService: answers a deploy and remembers that it was reached."""

    def __init__(self):
        self.calls = []

    async def deploy_local(self, path, overrides):
        self.calls.append(path)
        return {"algorithm_id": "a", "algorithm_name": "n", "algorithm_major_version": "1",
                "algorithm_minor_version": "0"}

    async def delete(self, algorithm_id, minor):
        self.calls.append(algorithm_id)
        return "Algorithm removed"


@dataclass
class AdminServices:
    settings: Settings
    algorithms: RecordingAlgorithms


@pytest.fixture
def api(tmp_path):
    services = AdminServices(Settings(data_dir=tmp_path, admin_token="s3cret"), RecordingAlgorithms())
    app = FastAPI()
    app.include_router(deploy.router)
    install_error_handlers(app)
    app.dependency_overrides[get_services] = lambda: services
    return TestClient(app), services


@pytest.mark.parametrize("headers, status, code", [
    ({}, 401, "unauthorized"),
    ({"Authorization": "Basic s3cret"}, 401, "unauthorized"),
    ({"Authorization": "Bearer wrong"}, 403, "forbidden"),
])
def test_deploy_and_delete_refuse_a_missing_or_wrong_token(api, headers, status, code):
    client, services = api
    for response in (client.post("/api/v0/deploy/local", params={"path": "x"}, headers=headers),
                     client.delete("/api/v0/deploy/algorithm/x", headers=headers)):
        assert (response.status_code, response.json()["code"]) == (status, code)
    assert services.algorithms.calls == []


def test_the_admin_token_lets_them_through(api):
    client, services = api
    headers = {"Authorization": "Bearer s3cret"}
    assert client.post("/api/v0/deploy/local", params={"path": "x"}, headers=headers).status_code == 200
    assert client.delete("/api/v0/deploy/algorithm/x", headers=headers).json() == {"detail": "Algorithm removed"}
    assert services.algorithms.calls == ["x", "x"]


def test_overrides_are_validated(api):
    client, _ = api
    response = client.post("/api/v0/deploy/local", params={"path": "x", "algorithm_major_version": "one"},
                           headers={"Authorization": "Bearer s3cret"})
    assert (response.status_code, response.json()["code"]) == (422, "request_validation_error")
