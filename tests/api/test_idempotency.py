"""Idempotency-Key on POST /api/v0/execute-algorithm and /api/v0/train-algorithm: a repeat of a
submit answers the run the key created first; the key on another request, or a malformed key, is 422."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from tests.factories.hdf5_files import hdf5_bytes


def upload(client) -> str:
    return client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"]


def denoiser_id(client) -> str:
    return next(a["algorithm_id"] for a in client.get("/api/v0/algorithm/all").json()
                if a["algorithm_name"] == "denoise_3d")


def unet_id(client) -> str:
    return next(a["algorithm_id"] for a in client.get("/api/v0/algorithm/all").json()
                if a["algorithm_name"] == "unet3d_denoiser")


def wait_terminal(client, path: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while (record := client.get(path).json())["status"] not in ("COMPLETED", "FAILED", "STOPPED"):
        assert time.monotonic() < deadline, record
        time.sleep(0.05)
    return record


def test_a_repeated_execution_submit_answers_the_first_execution(client):
    session = str(uuid.uuid4())
    body = {"algorithm_id": denoiser_id(client), "input_dataset_ids": [upload(client)], "session_token": session}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v0/execute-algorithm", json=body, headers=key)
    again = client.post("/api/v0/execute-algorithm", json=body, headers=key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()
    execution_id = first.json()["execution_id"]
    assert wait_terminal(client, f"/api/v0/executions/{execution_id}")["status"] == "COMPLETED"
    after_it_ended = client.post("/api/v0/execute-algorithm", json=body, headers=key)
    assert after_it_ended.json() == {"execution_id": execution_id}
    listed = client.get("/api/v0/executions", params={"session_token": session}).json()
    assert [e["execution_id"] for e in listed] == [execution_id]
    other_key = client.post("/api/v0/execute-algorithm", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    without_key = client.post("/api/v0/execute-algorithm", json=body)
    assert len({execution_id, other_key.json()["execution_id"], without_key.json()["execution_id"]}) == 3


def test_a_key_reused_for_another_request_is_refused(client):
    key = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    body = {"algorithm_id": denoiser_id(client), "input_dataset_ids": [upload(client)]}
    assert client.post("/api/v0/execute-algorithm", json=body, headers=key).status_code == 200
    changed = client.post("/api/v0/execute-algorithm", json=body | {"additional_parameters": {"sigma": 2.0}},
                          headers=key)
    assert (changed.status_code, changed.json()["code"]) == (422, "idempotency_key_reused")


def test_a_submit_that_was_refused_leaves_its_key_free(client):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    missing = {"algorithm_id": denoiser_id(client), "input_dataset_ids": [str(uuid.uuid4())]}
    refused = client.post("/api/v0/execute-algorithm", json=missing, headers=key)
    assert (refused.status_code, refused.json()["code"]) == (404, "input_datasets_not_found")
    fixed = client.post("/api/v0/execute-algorithm", json=missing | {"input_dataset_ids": [upload(client)]},
                        headers=key)
    assert fixed.status_code == 200, fixed.text


@pytest.mark.parametrize("key", ["", "spaced key", "x" * 256, "tab\tkey"])
def test_malformed_keys_are_refused(client, key):
    body = {"algorithm_id": denoiser_id(client), "input_dataset_ids": [upload(client)]}
    response = client.post("/api/v0/execute-algorithm", json=body, headers={"Idempotency-Key": key})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_idempotency_key")


def test_a_repeated_training_submit_answers_the_first_training(client):
    volume_file = client.post("/api/v0/files", content=hdf5_bytes(volume=np.zeros((8, 8, 8), np.float32))).json()[
        "file_id"]
    sample = client.post("/api/v0/sample", json={"files": [{"input": [volume_file], "target": [volume_file]}]})
    body = {"algorithm_id": unet_id(client), "training_data": [sample.json()["sample_id"]],
            "additional_parameters": {"epochs": 1, "steps_per_epoch": 1}}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v0/train-algorithm", json=body, headers=key)
    again = client.post("/api/v0/train-algorithm", json=body, headers=key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json()
    reused = client.post("/api/v0/train-algorithm", json=body | {"tags": ["other"]}, headers=key)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    training_id = first.json()["training_id"]
    assert wait_terminal(client, f"/api/v0/training/{training_id}")["status"] == "COMPLETED"
