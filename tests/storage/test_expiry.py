"""Files expire ``file_expiry_s`` after upload; the sweep deletes record and blob; a pin keeps a file."""

from __future__ import annotations

import time

import ray

from compox_ray.storage.file_records import file_blob_key
from compox_ray.storage.blobs import open_blob_store
from tests.factories.hdf5_files import hdf5_bytes


def test_sweep_deletes_expired_files_but_not_pinned_ones(client, server):
    expired, pinned = (client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"] for _ in range(2))
    records, housekeeper = server.actor("records"), server.actor("housekeeper")
    assert ray.get(records.pin_files.remote("sample:test", [pinned])) == []

    later = time.time() + server.settings.file_expiry_s + 1
    ray.get(housekeeper.sweep_now.remote(later))

    blobs = open_blob_store(server.settings)
    assert client.get(f"/api/v0/files/{expired}").json()["code"] == "file_not_found"
    assert not blobs.fs.exists(blobs.path(file_blob_key(expired)))
    assert client.get(f"/api/v0/files/{pinned}").status_code == 200

    # A pinned file cannot be deleted while a sample holds it...
    response = client.delete(f"/api/v0/files/{pinned}")
    assert (response.status_code, response.json()["code"]) == (409, "file_referenced_by_sample")
    assert response.json()["details"]["sample_ids"] == ["test"]
    # ...and once released, its expiry clock starts again from the release.
    released_at = time.time()
    ray.get(records.release_pins.remote("sample:test", released_at))
    ray.get(housekeeper.sweep_now.remote(released_at + server.settings.file_expiry_s - 1))
    assert client.get(f"/api/v0/files/{pinned}").status_code == 200
    ray.get(housekeeper.sweep_now.remote(released_at + server.settings.file_expiry_s + 1))
    assert client.get(f"/api/v0/files/{pinned}").json()["code"] == "file_not_found"


def test_missing_files_are_reported_in_order(client, server):
    present = client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"]
    records = server.actor("records")
    absent = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    assert ray.get(records.missing_files.remote([absent[1], present, absent[0]])) == [absent[1], absent[0]]
    assert ray.get(records.pin_files.remote("execution:x", [present, absent[0]])) == [absent[0]]
    assert ray.get(records.file_pins.remote(present)) == []  # all or nothing
