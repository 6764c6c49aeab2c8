"""Deploy and algorithm deletion with tokens configured (api/auth.py): an admin token opens them,
a user token is refused before anything reaches the registry (tests/api/test_access.py walks
every route; this follows one package through)."""

from __future__ import annotations

import pytest

from tests.api.algorithm_packages import deploy, registry, unique_name
from tests.factories.packages import make_algorithm_package


@pytest.fixture
def as_user(secured_server):
    with secured_server.client(
            headers={"Authorization": f"Bearer {secured_server.settings.user_tokens[0].get_secret_value()}"}) as client:
        yield client


@pytest.fixture
def as_admin(secured_server):
    with secured_server.client(
            headers={"Authorization": f"Bearer {secured_server.settings.admin_tokens[0].get_secret_value()}"}) as client:
        yield client


def test_a_user_token_cannot_deploy_or_remove(as_user, as_admin, tmp_path):
    folder = make_algorithm_package(tmp_path, name=unique_name(), removable=True)
    before = registry(as_admin)
    refused = deploy(as_user, folder)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert registry(as_admin) == before
    deployed = deploy(as_admin, folder)
    assert deployed.status_code == 200, deployed.text
    algorithm = deployed.json()
    # A user sees the algorithm and may run it; removing it is an admin's.
    assert as_user.get(f"/api/v0/algorithm/{algorithm['algorithm_name']}/1").status_code == 200
    removal = as_user.delete(f"/api/v0/deploy/algorithm/{algorithm['algorithm_id']}")
    assert (removal.status_code, removal.json()["code"]) == (403, "forbidden")
    assert as_admin.delete(f"/api/v0/deploy/algorithm/{algorithm['algorithm_id']}").status_code == 200
    assert registry(as_admin) == before


def test_deploy_jobs_show_server_paths_to_admins_only(secured_server, as_user, as_admin):
    folder = make_algorithm_package(secured_server.settings.deploy_allowed_dirs[0], name=unique_name())
    job = as_admin.post("/api/v0/deploy/local-async", params={"path": str(folder)})
    assert job.status_code == 200, job.text
    refused = as_user.get(f"/api/v0/deploy/{job.json()['deploy_id']}")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    shown = as_admin.get(f"/api/v0/deploy/{job.json()['deploy_id']}")
    assert shown.status_code == 200 and str(folder) in shown.text


def test_overrides_are_validated(as_admin):
    response = as_admin.post("/api/v0/deploy/local", params={"path": "x", "algorithm_major_version": "one"})
    assert (response.status_code, response.json()["code"]) == (422, "request_validation_error")
