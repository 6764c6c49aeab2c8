"""Ranged downloads (``Range: bytes=...``) of GET /api/v0/files/{id} on both stores: a viewer
resumes a large download where it stopped."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories.hdf5_files import hdf5_bytes


@pytest.fixture
def small_file(client):
    payload = hdf5_bytes(image=np.random.default_rng(3).random((64, 64), dtype=np.float32))
    file_id = client.post("/api/v0/files", content=payload).json()["file_id"]
    yield file_id, payload
    client.delete(f"/api/v0/files/{file_id}")


@pytest.fixture
def large_file(client, server):
    """Three download chunks and a bit: ranges cross chunk boundaries (and, on S3, are ranged GETs)."""
    values = np.random.default_rng(4).random(3 * server.settings.download_chunk_bytes // 8 + 1000)
    payload = hdf5_bytes(volume=values)
    file_id = client.post("/api/v0/files", content=payload).json()["file_id"]
    yield file_id, payload
    client.delete(f"/api/v0/files/{file_id}")


def test_a_whole_download_says_ranges_are_accepted(client, small_file):
    file_id, payload = small_file
    response = client.get(f"/api/v0/files/{file_id}")
    assert (response.status_code, response.headers["accept-ranges"]) == (200, "bytes")
    assert response.content == payload


@pytest.mark.parametrize("header, span", [
    ("bytes=0-99", (0, 99)), ("bytes=100-", (100, None)), ("bytes=-50", (-50, None)),
    ("bytes=10-10", (10, 10)), ("bytes=5-999999999", (5, None)),
])
def test_a_range_is_answered_206_with_its_bytes(client, small_file, header, span):
    file_id, payload = small_file
    size = len(payload)
    start, end = span
    start = size + start if start < 0 else start
    end = size - 1 if end is None else end
    response = client.get(f"/api/v0/files/{file_id}", headers={"Range": header})
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == payload[start:end + 1]


def test_a_range_past_the_end_is_416(client, small_file):
    file_id, payload = small_file
    for header in (f"bytes={len(payload)}-", f"bytes={len(payload) + 10}-{len(payload) + 20}", "bytes=-0"):
        response = client.get(f"/api/v0/files/{file_id}", headers={"Range": header})
        assert (response.status_code, response.json()["code"]) == (416, "range_not_satisfiable")
        assert response.headers["content-range"] == f"bytes */{len(payload)}"


@pytest.mark.parametrize("header", ["bytes=20-10", "items=0-5", "bytes=0-5,10-20", "bytes=x-", "bytes=" + "9" * 30])
def test_a_range_that_does_not_parse_is_ignored(client, small_file, header):
    file_id, payload = small_file
    response = client.get(f"/api/v0/files/{file_id}", headers={"Range": header})
    assert response.status_code == 200
    assert response.content == payload


def test_ranges_of_a_large_file_are_streamed_across_chunks(client, server, large_file):
    file_id, payload = large_file
    chunk = server.settings.download_chunk_bytes
    start, end = chunk - 10, 2 * chunk + 10
    with client.stream("GET", f"/api/v0/files/{file_id}", headers={"Range": f"bytes={start}-{end}"}) as response:
        assert response.status_code == 206
        assert response.headers["content-range"] == f"bytes {start}-{end}/{len(payload)}"
        received = b"".join(response.iter_bytes())
    assert received == payload[start:end + 1]
    # A resumed download: the rest of the file after what arrived first.
    rest = client.get(f"/api/v0/files/{file_id}", headers={"Range": f"bytes={end + 1}-"})
    assert rest.status_code == 206
    assert payload[:end + 1] + rest.content == payload
