"""Files API against the local store and a real S3 server (the ``server`` fixture runs both)."""

from __future__ import annotations

import contextlib
import os
import sqlite3

import numpy as np
import pytest
import ray

from compox_ray import ids
from tests.factories.hdf5_files import hdf5_bytes, read_hdf5


def stored_files(server) -> set[str]:
    """File blob keys actually present in the blob store (not what the records claim)."""
    from compox_ray.storage.blobs import open_blob_store

    store = open_blob_store(server.settings)
    try:
        return {path.rsplit("/", 1)[-1] for path in store.fs.ls(store.path("files"), detail=False)}
    except FileNotFoundError:
        return set()


def recorded_files(server) -> int:
    """File records in the server's SQLite file (read beside the RecordStore: WAL allows it)."""
    with contextlib.closing(sqlite3.connect(f"file:{server.settings.database_path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT COUNT(*) FROM files").fetchone()[0]


def spool_leftovers(server) -> list[str]:
    """Upload spool files left behind (other services keep their own folders in the spool)."""
    spool = server.settings.spool_dir
    return [path.name for path in spool.iterdir() if path.is_file()] if spool.exists() else []


def test_upload_download_delete_round_trip(client):
    payload = hdf5_bytes(image=np.random.default_rng(0).random((32, 32), dtype=np.float32))
    response = client.post("/api/v0/files", content=payload, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    file_id = response.json()["file_id"]
    assert ids.is_valid_id(file_id)

    download = client.get(f"/api/v0/files/{file_id}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.content == payload
    np.testing.assert_array_equal(read_hdf5(download.content)["image"], read_hdf5(payload)["image"])

    deleted = client.delete(f"/api/v0/files/{file_id}")
    assert deleted.status_code == 200
    assert deleted.json() == {"detail": "File deleted successfully"}
    again = client.delete(f"/api/v0/files/{file_id}")
    assert (again.status_code, again.json()["code"]) == (404, "file_not_found")
    assert client.get(f"/api/v0/files/{file_id}").json()["code"] == "file_not_found"


def test_a_file_of_many_chunks_comes_back_whole_and_a_client_may_stop_reading(client, server):
    """Larger than the download chunk (read ahead, one streamed GET on S3); a client that hangs up
    half way through a download leaves the server serving the next one."""
    values = np.random.default_rng(1).random(3 * server.settings.download_chunk_bytes // 8 + 1000)
    payload = hdf5_bytes(volume=values)
    file_id = client.post("/api/v0/files", content=payload).json()["file_id"]
    with client.stream("GET", f"/api/v0/files/{file_id}") as partial:
        assert partial.headers["content-length"] == str(len(payload))
        next(partial.iter_raw(2**16))
    download = client.get(f"/api/v0/files/{file_id}")
    assert download.status_code == 200
    assert download.content == payload
    client.delete(f"/api/v0/files/{file_id}")


@pytest.mark.parametrize("body", [
    pytest.param(b"", id="empty"),
    pytest.param(os.urandom(4096), id="random"),
    pytest.param(hdf5_bytes()[:1000], id="truncated"),
    pytest.param(hdf5_bytes()[:96], id="superblock-only"),
    pytest.param(b"\x89HDF\r\n\x1a\n" + b"\0" * 100, id="signature-only"),
])
def test_upload_rejects_what_is_not_hdf5_and_stores_nothing(client, server, body):
    before, records_before = stored_files(server), recorded_files(server)
    response = client.post("/api/v0/files", content=body)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_hdf5_file"
    assert response.json()["retryable"] is False
    assert stored_files(server) == before
    assert recorded_files(server) == records_before  # a small body's record is written meanwhile, then undone
    assert spool_leftovers(server) == []


def test_upload_over_the_limit_is_413_and_stores_nothing(client, server):
    before = stored_files(server)
    too_big = hdf5_bytes(volume=np.zeros(server.settings.max_upload_bytes // 8 + 1024, np.float64))
    response = client.post("/api/v0/files", content=too_big)
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")

    def chunked():  # no Content-Length: the limit is enforced while streaming
        for start in range(0, len(too_big), 2**20):
            yield too_big[start:start + 2**20]

    response = client.post("/api/v0/files", content=chunked())
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert stored_files(server) == before
    assert spool_leftovers(server) == []


def test_an_aborted_upload_leaves_nothing(client, server):
    """The client sends half the body, then hangs up (past the first spool batch: a spool file exists)."""
    import socket
    from urllib.parse import urlsplit

    before = stored_files(server)
    payload = hdf5_bytes(volume=np.ones(3 * 2**20, np.float32))
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (f"POST {url.path}/api/v0/files HTTP/1.1\r\nHost: {url.hostname}\r\n"
                f"Content-Length: {len(payload)}\r\nContent-Type: application/octet-stream\r\n\r\n")
        sock.sendall(head.encode() + payload[: len(payload) // 2])
    from tests.servers import wait_until

    wait_until(lambda: spool_leftovers(server) == [], 30, what="spool cleaned after abort")
    assert stored_files(server) == before


@pytest.mark.parametrize("file_id", ["0" * 36, ids.new_id(), "x" * 10_000, "..%2F..%2Fetc%2Fpasswd", "%2e%2e"])
def test_unknown_and_malformed_ids_are_404(client, file_id):
    for response in (client.get(f"/api/v0/files/{file_id}"), client.delete(f"/api/v0/files/{file_id}")):
        assert response.status_code == 404
        assert response.json()["code"] in ("file_not_found", "not_found")
        assert "detail" in response.json()


def test_path_traversal_never_reaches_the_store(client):
    response = client.get("/api/v0/files/../../etc/passwd")
    assert response.status_code == 404
    assert b"root:" not in response.content


def test_root_reports_the_cluster(client):
    body = client.get("/").json()
    assert body["name"] == "compox_ray"
    # The test session's Ray is started as `make run` starts one: no GPU on these machines.
    gpus = int(ray.cluster_resources().get("GPU", 0))
    assert (body["cuda_available"], body["cuda_capable_devices_count"]) == (gpus > 0, gpus)
    assert {"tags", "group", "organization", "domain", "version"} <= body.keys()


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/v0/files" in schema["paths"]
