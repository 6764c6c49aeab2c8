"""What a client sends on purpose or by mistake is answered 4xx with a code, never 5xx: numbers that
are no numbers, text that is no text, more tags or ids than SQLite takes in one statement, bodies
larger than a route parses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.factories.hdf5_files import hdf5_bytes
from tests.runtime.conftest import upload_slices

LONE_SURROGATE = "\ud800"
NOT_A_NUMBER = ("²", "9" * 20, "-1", "1.0", "0x1")


def post_json_text(client, path: str, text: str):
    """A body as written, for what httpx's encoder refuses (lone surrogates, NaN)."""
    return client.post(path, content=text.encode("ascii"), headers={"Content-Type": "application/json"})


def compact(value) -> str:
    # ensure_ascii: a lone surrogate goes out as the escape "\ud800", as a client's encoder writes it
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


@pytest.fixture(scope="module")
def client(local_server):
    with local_server.client() as http:
        yield http


@pytest.fixture(scope="module")
def sample_id(client) -> str:
    file_id = upload_slices(client, np.ones((1, 4, 4), np.float32))[0]
    response = client.post("/api/v0/sample", json={"files": [{"input": [file_id], "target": [file_id]}]})
    assert response.status_code == 200, response.text
    return response.json()["sample_id"]


def test_minor_versions_that_are_no_decimal_number_are_not_found(client, algorithms, sample_id):
    inputs = upload_slices(client, np.ones((1, 4, 4), np.float32))
    for minor in NOT_A_NUMBER:
        executed = client.post("/api/v0/execute-algorithm", json={
            "algorithm_id": algorithms["invert"], "input_dataset_ids": inputs, "algorithm_minor_version": minor})
        trained = client.post("/api/v0/train-algorithm", json={
            "algorithm_id": algorithms["scaler"], "training_data": [sample_id], "algorithm_minor_version": minor})
        exported = client.get("/api/v0/algorithm/test_invert/1/export", params={"algorithm_minor_version": minor})
        assert (executed.status_code, executed.json()["code"]) == (404, "algorithm_not_found"), (minor, executed.text)
        assert (trained.status_code, trained.json()["code"]) == (404, "algorithm_not_found"), (minor, trained.text)
        assert (exported.status_code, exported.json()["code"]) == (404, "minor_version_not_found"), minor


def test_lone_surrogates_anywhere_in_a_body_are_refused(client, algorithms, sample_id):
    inputs = upload_slices(client, np.ones((1, 4, 4), np.float32))
    execution = {"algorithm_id": algorithms["invert"], "input_dataset_ids": inputs}
    bodies = {
        "/api/v0/execute-algorithm": [execution | {"session_token": LONE_SURROGATE},
                                      execution | {"input_dataset_ids": [LONE_SURROGATE]},
                                      execution | {"additional_parameters": {"note": LONE_SURROGATE}},
                                      execution | {"additional_parameters": {LONE_SURROGATE: 1}}],
        "/api/v0/sample": [{"files": [{"input": inputs}], "tags": [LONE_SURROGATE]},
                           {"files": [{"input": [LONE_SURROGATE]}]},
                           {"files": [{LONE_SURROGATE: inputs}]}],
        "/api/v0/train-algorithm": [{"algorithm_id": algorithms["scaler"], "training_data": [sample_id],
                                     "tags": ["ok", "x" + LONE_SURROGATE]}],
    }
    for path, cases in bodies.items():
        for body in cases:
            response = post_json_text(client, path, compact(body))
            assert response.status_code == 422, (path, body, response.text)
            assert response.json()["code"] == "request_validation_error"
            assert "surrogate" in json.dumps(response.json()["detail"])
    # a surrogate pair is one character (U+1F600), which is text
    response = post_json_text(client, "/api/v0/execute-algorithm", compact(execution | {"session_token": "\U0001f600"}))
    assert response.status_code == 200, response.text


def test_nan_and_infinity_never_pass_a_parameter_check(client, algorithms, sample_id):
    inputs = upload_slices(client, np.ones((1, 4, 4), np.float32))
    execution = compact({"algorithm_id": algorithms["invert"], "input_dataset_ids": inputs})[:-1]
    for number in ("NaN", "Infinity", "-Infinity", "1e999"):
        # declared, with min/max (offset in [-10, 10]): no comparison lets NaN through
        response = post_json_text(client, "/api/v0/execute-algorithm",
                                  execution + f',"additional_parameters":{{"offset":{number}}}}}')
        assert (response.status_code, response.json()["code"]) == (422, "invalid_parameters"), (number, response.text)
        assert (response.json()["details"]["parameter"], response.json()["details"]["rule"]) == ("offset", "range")
        # undeclared: passed through as is, so it must be JSON a record can hold
        response = post_json_text(client, "/api/v0/execute-algorithm",
                                  execution + f',"additional_parameters":{{"tile":[1,{{"x":{number}}}]}}}}')
        assert (response.status_code, response.json()["code"]) == (422, "invalid_parameters"), (number, response.text)
        assert response.json()["details"]["parameter"] == "tile"
        # a training parameter (factor in [0, 100]) the same way
        response = post_json_text(client, "/api/v0/train-algorithm", compact(
            {"algorithm_id": algorithms["scaler"], "training_data": [sample_id]})[:-1]
            + f',"additional_parameters":{{"factor":{number}}}}}')
        assert (response.status_code, response.json()["code"]) == (422, "invalid_parameters"), (number, response.text)
        # anywhere else in a body it is no JSON number
        response = post_json_text(client, "/api/v0/sample", f'{{"files":[{{"input":{compact(inputs)}}}],"tags":[{number}]}}')
        assert (response.status_code, response.json()["code"]) == (422, "request_validation_error"), response.text


def test_bodies_nested_past_the_bound_are_refused(client, algorithms):
    nested = "[" * 200 + "]" * 200
    response = post_json_text(client, "/api/v0/execute-algorithm",
                              f'{{"algorithm_id":"{algorithms["invert"]}","input_dataset_ids":[],'
                              f'"additional_parameters":{{"deep":{nested}}}}}')
    assert (response.status_code, response.json()["code"]) == (422, "request_validation_error"), response.text
    assert "nested deeper" in json.dumps(response.json()["detail"])


def test_tag_queries_of_any_length_answer_correctly(client):
    marker = f"m{np.random.default_rng().integers(1 << 32):x}"
    file_id = upload_slices(client, np.ones((1, 4, 4), np.float32))[0]
    response = client.post("/api/v0/sample", json={"files": [{"input": [file_id]}], "tags": [marker, "Second "]})
    sample_id = response.json()["sample_id"]
    others = [f"{marker}{index}" for index in range(1200)]

    def samples(**params) -> list[str]:
        response = client.get("/api/v0/sample/all", params=params)
        assert response.status_code == 200, response.text
        return [sample["sample_id"] for sample in response.json()]

    assert samples(positive_tags=[marker, "second"]) == [sample_id]
    assert samples(positive_tags=[marker, "second", *others]) == []   # it lacks 1200 of them
    assert samples(positive_tags=[marker], negative_tags=others) == [sample_id]
    assert samples(positive_tags=[marker], negative_tags=[*others, "SECOND"]) == []
    assert samples(positive_tags=[marker, marker.upper(), *[marker] * 1200]) == [sample_id]  # normalised first
    for params in ({"positive_tags": others}, {"negative_tags": others}):
        response = client.get("/api/v0/checkpoint/all", params=params)
        assert response.status_code == 200, response.text
        assert all(not set(checkpoint["tags"]) & set(others) for checkpoint in response.json())


def test_more_ids_than_sqlite_takes_as_variables_are_answered(client, algorithms):
    many = ["a"] * 250_001  # one statement used to bind one variable per id (SQLite's limit: 250,000)
    executed = post_json_text(client, "/api/v0/execute-algorithm",
                              compact({"algorithm_id": algorithms["invert"], "input_dataset_ids": many}))
    assert (executed.status_code, executed.json()["code"]) == (404, "input_datasets_not_found"), executed.text[:300]
    assert executed.json()["details"]["missing_dataset_ids"] == ["a"]
    sampled = post_json_text(client, "/api/v0/sample", compact({"files": [{"input": many}]}))
    assert (sampled.status_code, sampled.json()["code"]) == (404, "sample_input_files_not_found"), sampled.text[:300]
    trained = post_json_text(client, "/api/v0/train-algorithm",
                             compact({"algorithm_id": algorithms["scaler"], "training_data": many}))
    assert (trained.status_code, trained.json()["code"]) == (404, "input_samples_not_found"), trained.text[:300]
    assert trained.json()["details"]["missing_sample_ids"] == ["a"]


def test_json_bodies_are_capped_before_they_are_parsed(client, local_server, algorithms):
    cap = local_server.settings.max_json_body_bytes
    oversized = compact({"algorithm_id": algorithms["invert"], "input_dataset_ids": ["a" * 64] * (cap // 60)})
    assert len(oversized) > cap
    declared = post_json_text(client, "/api/v0/execute-algorithm", oversized)
    assert (declared.status_code, declared.json()["code"]) == (413, "payload_too_large")

    def chunks():  # no Content-Length: the bytes are counted as they arrive
        for start in range(0, len(oversized), 65536):
            yield oversized[start:start + 65536].encode()
    chunked = client.post("/api/v0/sample", content=chunks(), headers={"Content-Type": "application/json"})
    assert (chunked.status_code, chunked.json()["code"]) == (413, "payload_too_large"), chunked.text
    # the raw-body route keeps its own, larger limit (max_upload_bytes)
    upload = client.post("/api/v0/files", content=hdf5_bytes(image=np.ones((1024, 768), np.float32)))
    assert upload.status_code == 200, upload.text
