"""Compox's v1 files (/api/v1/files) on both stores: client-named objects moved through the URLs
the server hands out (presigned S3 URLs on the moto server; signed URLs to the server's own
endpoints on the local store), used as file ids afterwards."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest
import ray

from compox_ray import ids
from compox_ray.services.signed_urls import SECRET_FILE, UrlSigner
from compox_ray.storage.blobs import open_blob_store
from tests.factories.hdf5_files import HOSTILE_HDF5, hdf5_bytes, hdf5_file_bytes

TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}


def upload_url(client, name: str) -> str:
    response = client.get(f"/api/v1/files/{name}/upload-url")
    assert response.status_code == 200, response.text
    return response.json()["url"]


def put_by_url(url: str, payload: bytes) -> httpx.Response:
    """A plain PUT to the URL alone: no token, no other header a client would have to know."""
    return httpx.put(url, content=payload, timeout=60)


def unique_name(prefix: str = "scan") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}.h5"


def bundled_algorithm_id(client, name: str) -> str:
    return client.get(f"/api/v0/algorithm/{name}/1").json()["algorithm_id"]


def wait_for_execution(client, execution_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while (record := client.get(f"/api/v0/executions/{execution_id}").json())["status"] not in TERMINAL:
        assert time.monotonic() < deadline, record
        time.sleep(0.05)
    return record


@pytest.mark.parametrize("name", [unique_name(), ids.new_id(), f"Slice_{uuid.uuid4().hex[:8]}.0001"])
def test_round_trip_with_the_urls_alone_and_the_name_as_input_id(client, server, name):
    image = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    payload = hdf5_bytes(image=image)
    assert put_by_url(upload_url(client, name), payload).status_code == 200

    # The name is an input id: the execution adopts (validates and records) the upload first.
    response = client.post("/api/v0/execute-algorithm", json={
        "algorithm_id": bundled_algorithm_id(client, "threshold_segmentation"), "input_dataset_ids": [name]})
    assert response.status_code == 200, response.text
    record = wait_for_execution(client, response.json()["execution_id"])
    assert record["status"] == "COMPLETED", record["log"]
    assert record["input_dataset_ids"] == [name]

    download = client.get(f"/api/v1/files/{name}/download-url")
    assert download.status_code == 200, download.text
    assert httpx.get(download.json()["url"], timeout=60).content == payload
    assert client.get(f"/api/v0/files/{name}").content == payload

    deleted = client.delete(f"/api/v1/files/{name}")
    assert (deleted.status_code, deleted.json()) == (200, {"detail": "File deleted successfully"})
    assert client.get(f"/api/v0/files/{name}").json()["code"] == "file_not_found"
    assert client.get(f"/api/v1/files/{name}/download-url").json()["code"] == "file_not_found"
    assert client.delete(f"/api/v1/files/{name}").json()["code"] == "file_not_found"


def test_an_adopted_name_answers_409_and_keeps_its_bytes(client, server):
    name = unique_name()
    first, second = hdf5_bytes(image=np.ones((4, 4), np.float32)), hdf5_bytes(image=np.zeros((4, 4), np.float32))
    early_url = upload_url(client, name)
    assert put_by_url(upload_url(client, name), hdf5_bytes(image=np.full((4, 4), 7, np.float32))).status_code == 200
    # Before it is adopted, a new upload replaces the object (as in Compox).
    assert put_by_url(early_url, first).status_code == 200
    assert client.get(f"/api/v0/files/{name}").content == first  # adopted here

    refused = client.get(f"/api/v1/files/{name}/upload-url")
    assert (refused.status_code, refused.json()["code"]) == (409, "file_exists")
    # A URL handed out before the adoption can never replace the bytes the record points at.
    late = put_by_url(early_url, second)
    if server.settings.blob_uri.startswith("file:"):
        assert (late.status_code, late.json()["code"]) == (409, "file_exists")
    assert httpx.get(client.get(f"/api/v1/files/{name}/download-url").json()["url"]).content == first
    assert client.get(f"/api/v0/files/{name}").content == first
    assert client.get(f"/api/v0/files/{name}", headers={"Range": "bytes=0-7"}).content == first[:8]
    client.delete(f"/api/v1/files/{name}")


def test_what_is_not_valid_hdf5_is_refused_where_it_is_first_referenced(client, server, tmp_path):
    algorithm_id = bundled_algorithm_id(client, "threshold_segmentation")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"s" * 64)
    for payload in (b"not an hdf5 file", hdf5_file_bytes(lambda item: HOSTILE_HDF5["external_storage"][0](item, secret))):
        name = unique_name("bad")
        assert put_by_url(upload_url(client, name), payload).status_code == 200
        response = client.post("/api/v0/execute-algorithm", json={"algorithm_id": algorithm_id,
                                                                   "input_dataset_ids": [name]})
        assert (response.status_code, response.json()["code"]) == (422, "invalid_hdf5_file")
        # Refused uploads are discarded: nothing points at them, nothing is left to adopt.
        assert client.get(f"/api/v0/files/{name}").json()["code"] == "file_not_found"
    name = unique_name("bad")
    put_by_url(upload_url(client, name), b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    response = client.post("/api/v0/sample", json={"files": [{"input": [name]}]})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_hdf5_file")
    response = client.get(f"/api/v1/files/{unique_name()}/download-url")
    assert (response.status_code, response.json()["code"]) == (404, "file_not_found")


def test_an_upload_over_the_size_limit_is_refused(client, server):
    name = unique_name("big")
    too_big = hdf5_bytes(volume=np.zeros(server.settings.max_upload_bytes // 8 + 1024, np.float64))
    response = put_by_url(upload_url(client, name), too_big)
    if server.settings.blob_uri.startswith("file:"):
        assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    else:  # S3 takes any PUT: the size is checked where the object is adopted
        referenced = client.get(f"/api/v0/files/{name}")
        assert (referenced.status_code, referenced.json()["code"]) == (413, "payload_too_large")
    assert client.get(f"/api/v0/files/{name}").json()["code"] == "file_not_found"


def test_a_deleted_file_stays_deleted_even_if_its_blob_was_left_behind(client, server):
    name = unique_name()
    payload = hdf5_bytes()
    put_by_url(upload_url(client, name), payload)
    assert client.get(f"/api/v0/files/{name}").content == payload
    assert client.delete(f"/api/v0/files/{name}").status_code == 200
    # As if the blob delete had failed: the bytes are back where the record pointed.
    open_blob_store(server.settings).write_bytes(f"files/{name}", payload)
    for path in (f"/api/v0/files/{name}", f"/api/v1/files/{name}/download-url"):
        assert client.get(path).json()["code"] == "file_not_found"
    response = client.post("/api/v0/sample", json={"files": [{"input": [name]}]})
    assert (response.status_code, response.json()["code"]) == (404, "sample_input_files_not_found")
    # The name is free again: a new upload makes a new file.
    assert put_by_url(upload_url(client, name), hdf5_bytes(image=np.ones((2, 2), np.float32))).status_code == 200
    client.delete(f"/api/v1/files/{name}")


def test_an_upload_never_referenced_is_swept_like_any_file(client, server):
    name = unique_name("stale")
    put_by_url(upload_url(client, name), hdf5_bytes())
    later = time.time() + 2 * server.settings.file_expiry_s
    ray.get(server.actor("housekeeper").sweep_now.remote(later))
    assert client.get(f"/api/v0/files/{name}").json()["code"] == "file_not_found"


@pytest.mark.parametrize("name", [".hidden", "a" * 129, "caf\u00e9", "a b", "a:b", "-" * 5 + "~"])
def test_names_outside_the_safe_alphabet_are_refused(client, name):
    response = client.get(f"/api/v1/files/{name}/upload-url")
    assert (response.status_code, response.json()["code"]) == (422, "invalid_object_name")


def test_a_path_is_never_a_name(client):
    for path in ("/api/v1/files/a/b/upload-url", "/api/v1/files/../../etc/passwd/upload-url"):
        assert client.get(path).status_code == 404


def test_signed_local_urls_expire_and_cannot_be_tampered_with(local_server):
    with local_server.client() as client:
        name = unique_name()
        url = upload_url(client, name)
        parts = urlsplit(url)
        query = {key: value[0] for key, value in parse_qs(parts.query).items()}
        assert set(query) == {"expires", "signature"}
        assert int(query["expires"]) - time.time() == pytest.approx(local_server.settings.transfer_url_expiry_s, abs=60)
        base = f"{parts.scheme}://{parts.netloc}{parts.path}"

        def put(**params) -> httpx.Response:
            return httpx.put(base, params=query | params, content=hdf5_bytes(), timeout=30)

        tampered = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
        assert put(signature=tampered).json()["code"] == "invalid_signature"
        assert put(expires=str(int(query["expires"]) + 3600)).json()["code"] == "invalid_signature"
        assert httpx.get(base, params=query).json()["code"] == "invalid_signature"  # a PUT URL is no GET URL
        other = base.replace(name, unique_name())
        assert httpx.put(other, params=query, content=b"x").json()["code"] == "invalid_signature"
        assert httpx.put(base, content=b"x").status_code == 403

        # Signed with the server's own secret, but expired.
        signer = UrlSigner(bytes.fromhex((Path(local_server.settings.data_dir) / SECRET_FILE).read_text()), -10)
        expired = httpx.put(base, params=signer.query("PUT", name), content=hdf5_bytes())
        assert (expired.status_code, expired.json()["code"]) == (403, "url_expired")
        assert put().status_code == 200
        client.delete(f"/api/v1/files/{name}")


def test_the_signing_secret_is_kept_private(local_server):
    secret = Path(local_server.settings.data_dir) / SECRET_FILE
    with local_server.client() as client:
        upload_url(client, unique_name())
    assert secret.stat().st_mode & 0o777 == 0o600


def test_presigned_s3_urls_expire_and_can_name_the_host_clients_use(s3_server, tmp_path):
    from compox_ray.settings import Settings

    public = s3_server.endpoint_url.replace("127.0.0.1", "localhost")
    settings = Settings(data_dir=tmp_path, transfer_url_expiry_s=120, s3_public_endpoint_url=public,
                        **s3_server.settings("compox-public"))
    store = open_blob_store(settings)
    url = store.presigned_url("uploads/object.h5", "PUT", settings.transfer_url_expiry_s)
    assert url.startswith(f"{public}/compox-public/")
    expires = parse_qs(urlsplit(url).query).get("Expires") or parse_qs(urlsplit(url).query).get("X-Amz-Expires")
    assert expires is not None
    assert httpx.put(url, content=b"through the public name").status_code == 200
    assert store.read_bytes("uploads/object.h5") == b"through the public name"


@pytest.mark.parametrize("public_base_url, expected", [
    (None, "http://127.0.0.1:5481/api/v1/files/a.h5/content"),
    ("https://compox.example.org/", "https://compox.example.org/api/v1/files/a.h5/content"),
])
def test_local_urls_name_the_server_as_clients_reach_it(tmp_path, public_base_url, expected):
    from types import SimpleNamespace

    from fastapi import FastAPI
    from starlette.requests import Request

    from compox_ray.api import files_v1
    from compox_ray.settings import Settings

    app = FastAPI()
    app.include_router(files_v1.router)
    request = Request({"type": "http", "method": "GET", "path": "/", "root_path": "", "query_string": b"",
                       "scheme": "http", "server": ("127.0.0.1", 5481), "headers": [(b"host", b"127.0.0.1:5481")],
                       "app": app, "router": app.router})
    services = SimpleNamespace(settings=Settings(data_dir=tmp_path, public_base_url=public_base_url))
    assert files_v1.content_endpoint(request, services, "put_object_content", "a.h5") == expected
