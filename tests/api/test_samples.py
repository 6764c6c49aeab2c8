"""Samples: CRUD, tag normalisation and filters, pinning of their files."""

from __future__ import annotations

import time

import pytest
import ray

from compox_ray import ids
from tests.factories.hdf5_files import hdf5_bytes


def upload(client, count: int = 1) -> list[str]:
    return [client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"] for _ in range(count)]


def create_sample(client, files, tags=()) -> str:
    response = client.post("/api/v0/sample", json={"files": files, "tags": list(tags)})
    assert response.status_code == 200, response.text
    return response.json()["sample_id"]


def test_sample_round_trip_with_normalised_tags(client):
    inputs, targets = upload(client, 2), upload(client, 1)
    sample_id = create_sample(client, [{"input": inputs, "target": targets}], [" Modality:CT ", "modality:ct", "", "Author:Me"])
    record = client.get(f"/api/v0/sample/{sample_id}").json()
    assert record["files"] == [{"input": inputs, "target": targets}]
    assert record["tags"] == ["modality:ct", "author:me"]
    assert record["time_created"].endswith("+00:00")
    assert client.delete(f"/api/v0/sample/{sample_id}").json() == {"detail": "Sample deleted successfully"}
    assert client.get(f"/api/v0/sample/{sample_id}").json()["code"] == "sample_not_found"
    assert client.delete(f"/api/v0/sample/{sample_id}").status_code == 404


def test_filters_need_every_positive_tag_and_no_negative_one(client):
    marker = f"run:{ids.new_id()[:8]}"
    files = [{"input": upload(client)}]
    brain = create_sample(client, files, [marker, "anatomy:brain", "modality:ct"])
    knee = create_sample(client, files, [marker, "anatomy:knee", "modality:ct"])
    mri = create_sample(client, files, [marker, "anatomy:brain", "modality:mri"])

    def query(**params):
        response = client.get("/api/v0/sample/all", params=params)
        assert response.status_code == 200
        return {s["sample_id"] for s in response.json()}

    assert query(positive_tags=[marker]) == {brain, knee, mri}
    assert query(positive_tags=[marker, " MODALITY:CT"]) == {brain, knee}
    assert query(positive_tags=[marker, "modality:ct"], negative_tags=["anatomy:knee"]) == {brain}
    assert query(positive_tags=[marker, "nothing:here"]) == set()
    assert client.get("/api/v0/sample/all", params={"positive_tags": ["nothing:at-all"]}).json() == []


def test_missing_files_are_listed(client):
    present = upload(client)
    missing = [ids.new_id(), ids.new_id()]
    response = client.post("/api/v0/sample", json={"files": [{"input": [missing[0], *present]}, {"input": [missing[1]]}]})
    assert (response.status_code, response.json()["code"]) == (404, "sample_input_files_not_found")
    assert response.json()["details"]["missing_file_ids"] == missing


@pytest.mark.parametrize("files", [[], [{"input": ["x"]}, {"target": ["y"]}], [{}]])
def test_malformed_samples_are_422(client, files):
    response = client.post("/api/v0/sample", json={"files": files})
    assert response.status_code == 422
    assert response.json()["code"] in ("invalid_sample", "request_validation_error")


@pytest.mark.parametrize("sample_id", [ids.new_id(), "../../etc/passwd", "y" * 10_000])
def test_unknown_samples_are_404(client, sample_id):
    assert client.get(f"/api/v0/sample/{sample_id}").status_code == 404


def test_a_sample_pins_its_files_until_it_is_deleted(client, server):
    files = upload(client, 2)
    sample_id = create_sample(client, [{"input": files}])
    records = server.actor("records")
    response = client.delete(f"/api/v0/files/{files[0]}")
    assert (response.status_code, response.json()["code"]) == (409, "file_referenced_by_sample")
    assert response.json()["details"]["sample_ids"] == [sample_id]
    # Pinned files outlive their expiry...
    ray.get(server.actor("housekeeper").sweep_now.remote(time.time() + 2 * server.settings.file_expiry_s))
    assert client.get(f"/api/v0/files/{files[1]}").status_code == 200
    # ...and deleting the sample releases them, with a fresh expiry clock.
    released_at = time.time()
    assert client.delete(f"/api/v0/sample/{sample_id}").status_code == 200
    expires_at = ray.get(records.get_file.remote(files[1]))["expires_at"]
    assert expires_at >= released_at + server.settings.file_expiry_s - 1
    assert client.delete(f"/api/v0/files/{files[0]}").status_code == 200
