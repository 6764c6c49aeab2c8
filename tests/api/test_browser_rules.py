"""What a web page can and cannot make a visitor's browser do to the server: the Origin rule for
anything that changes state, the Host allow-list against DNS rebinding, the package body types,
and CORS (off unless ``cors_origins`` names the origin)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.api.algorithm_packages import registry, unique_name
from tests.factories.hdf5_files import hdf5_bytes
from tests.factories.packages import make_algorithm_package, zip_folder

FOREIGN = "https://attacker.example"
VIEWER = "https://viewer.example.org"  # the secured server's one cors_origins entry


def own_origin(server) -> str:
    parts = urlsplit(server.url)
    return f"{parts.scheme}://{parts.netloc}"


def code(response) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


def test_a_cross_site_text_plain_deploy_is_refused_and_one_without_origin_is_accepted(local_server, tmp_path):
    # What fetch(url, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body})
    # sends: no preflight, so only the server can refuse it. The server has no token configured.
    package = zip_folder(make_algorithm_package(tmp_path, name=unique_name()))
    with local_server.client() as client:
        before = registry(client)
        cross_site = client.post("/api/v0/deploy", content=package,
                                 headers={"Origin": FOREIGN, "Content-Type": "text/plain"})
        assert code(cross_site) == (403, "forbidden_origin")
        # Without the Origin rule the body type alone is refused as well.
        assert code(client.post("/api/v0/deploy", content=package, headers={"Content-Type": "text/plain"})) == (
            415, "unsupported_media_type")
        assert registry(client) == before
        accepted = client.post("/api/v0/deploy", content=package, headers={"Content-Type": "application/zip"})
        assert accepted.status_code == 200, accepted.text
        assert registry(client) != before


@pytest.mark.parametrize("origin", [FOREIGN, "null", "http://127.0.0.1:1"])
def test_state_changes_from_another_origin_are_refused(local_server, origin):
    with local_server.client(headers={"Origin": origin}) as client:
        for response in (client.post("/api/v0/deploy/local", params={"path": "/etc"}),
                         client.post("/api/v0/deploy/local-async", params={"path": "/etc"}),
                         client.post("/api/v0/files", content=hdf5_bytes()),
                         client.delete("/api/v0/files/x0"),
                         client.post("/api/v0/execute-algorithm", json={"algorithm_id": "x0", "input_dataset_ids": []})):
            assert code(response) == (403, "forbidden_origin")


def test_a_form_body_on_a_server_path_deploy_is_refused(local_server):
    with local_server.client() as client:
        response = client.post("/api/v0/deploy/local", params={"path": "/etc"},
                               headers={"Content-Type": "application/x-www-form-urlencoded"}, content=b"a=b")
        assert code(response) == (415, "unsupported_media_type")


def test_reads_from_another_origin_pass_without_cors_headers(local_server):
    # The browser withholds the answer from the page: no Access-Control-Allow-Origin is sent.
    with local_server.client(headers={"Origin": FOREIGN}) as client:
        response = client.get("/api/v0/sample/all")
    assert response.status_code == 200
    assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_the_servers_own_pages_and_clients_without_origin_may_change_things(local_server):
    with local_server.client() as client:
        assert client.post("/api/v0/files", content=hdf5_bytes()).status_code == 200
        own = client.post("/api/v0/files", content=hdf5_bytes(), headers={"Origin": own_origin(local_server)})
        assert own.status_code == 200, own.text


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:5481", "127.0.0.1.nip.io", "10.0.0.1"])
def test_a_foreign_host_is_refused_before_anything_else(local_server, host):
    # A DNS-rebinding page reaches the loopback server under its own name.
    with local_server.client(headers={"Host": host}) as client:
        for response in (client.get("/"), client.get("/api/v0/health"), client.get("/api/v0/sample/all")):
            assert code(response) == (421, "host_not_allowed")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:5481"])
def test_loopback_names_are_served(local_server, host):
    with local_server.client(headers={"Host": host}) as client:
        assert client.get("/api/v0/health").status_code == 200


def test_cors_answers_the_configured_origin_only(secured_server):
    user = secured_server.settings.user_tokens[0].get_secret_value()
    with secured_server.client() as client:
        preflight = client.options("/api/v0/sample/all", headers={
            "Origin": VIEWER, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == VIEWER
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        # The viewer's page may change things with a token, and can read a refusal.
        created = client.post("/api/v0/files", content=hdf5_bytes(),
                              headers={"Origin": VIEWER, "Authorization": f"Bearer {user}"})
        assert created.status_code == 200 and created.headers["access-control-allow-origin"] == VIEWER
        refusal = client.post("/api/v0/files", content=hdf5_bytes(), headers={"Origin": VIEWER})
        assert code(refusal) == (401, "unauthorized") and refusal.headers["access-control-allow-origin"] == VIEWER
        foreign = client.post("/api/v0/files", content=hdf5_bytes(),
                              headers={"Origin": FOREIGN, "Authorization": f"Bearer {user}"})
        assert code(foreign) == (403, "forbidden_origin")
        assert "access-control-allow-origin" not in foreign.headers
