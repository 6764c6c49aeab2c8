"""Uploads of HDF5 files that reach past their own bytes are refused (422 invalid_hdf5_file, the
reason in ``detail``) and leave nothing behind, on the local store and on S3."""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.test_files import recorded_files, stored_files
from tests.factories.hdf5_files import HOSTILE_HDF5, NORMAL_HDF5, hdf5_file_bytes, hostile_hdf5_bytes


def assert_refused(client, server, data: bytes, reason: str) -> None:
    blobs_before, records_before = stored_files(server), recorded_files(server)
    response = client.post("/api/v0/files", content=data)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_hdf5_file"), response.text
    assert reason in response.json()["detail"]
    assert stored_files(server) == blobs_before and recorded_files(server) == records_before


@pytest.mark.parametrize("kind", sorted(HOSTILE_HDF5))
def test_hostile_uploads_are_refused_with_the_reason(client, server, kind):
    # External storage and links aim at the server's own SQLite file, as an attacker would.
    data = hostile_hdf5_bytes(kind, target=str(server.settings.database_path))
    assert_refused(client, server, data, HOSTILE_HDF5[kind][1])


def test_a_hostile_upload_larger_than_one_spool_batch_is_refused(client, server):
    """Bodies past the first 4 MiB batch are checked in the spool file, not in memory."""
    def padded_external_storage(item) -> None:
        HOSTILE_HDF5["external_storage"][0](item, server.settings.database_path)
        item["padding"] = np.random.default_rng(0).integers(0, 255, 6 * 2**20, dtype=np.uint8)

    data = hdf5_file_bytes(padded_external_storage)
    assert len(data) > 6 * 2**20
    assert_refused(client, server, data, "external storage")


def test_a_dataset_declared_beyond_max_item_bytes_is_refused(client, server):
    limit = server.settings.max_item_bytes
    assert limit == server.settings.max_upload_bytes  # the default
    data = hdf5_file_bytes(lambda item: item.create_dataset("image", shape=(limit + 1,), dtype="u1",
                                                            chunks=(2**16,), compression="gzip"))
    assert_refused(client, server, data, f"declares more than {limit} bytes")


@pytest.mark.parametrize("kind", sorted(NORMAL_HDF5))
def test_ordinary_compressed_and_chunked_uploads_pass(client, kind):
    data = hdf5_file_bytes(NORMAL_HDF5[kind])
    response = client.post("/api/v0/files", content=data)
    assert response.status_code == 200, response.text
    assert client.get(f"/api/v0/files/{response.json()['file_id']}").content == data
