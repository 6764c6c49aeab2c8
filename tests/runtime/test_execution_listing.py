"""Execution listing and deletion under Compox's paths (GET/DELETE /api/v0/execute-algorithm/all,
DELETE /api/v0/execute-algorithm/{id}) on both stores, and limit/offset with X-Total-Count on every
list endpoint."""

from __future__ import annotations

import numpy as np
import pytest
import ray

from compox_ray import ids
from tests.factories.hdf5_files import hdf5_bytes
from tests.runtime.conftest import PACKAGES, deploy, execute, upload_slices, wait_for
from tests.servers import wait_until


def image() -> np.ndarray:
    return np.random.default_rng(11).random((1, 8, 8), dtype=np.float32)


def finished_executions(client, algorithm_id: str, count: int, session_token: str) -> list[dict]:
    inputs = upload_slices(client, image())
    started = [execute(client, algorithm_id, inputs, session_token=session_token) for _ in range(count)]
    return [wait_for(client, execution_id) for execution_id in started]


def test_listing_with_and_without_limit_and_offset(runtime):
    server, client, algorithms = runtime
    session = f"listing-{ids.new_id()}"
    records = finished_executions(client, algorithms["invert"], 5, session)
    submitted = [record["execution_id"] for record in records]

    whole = client.get("/api/v0/execute-algorithm/all", params={"session_token": session})
    assert whole.status_code == 200
    assert isinstance(whole.json(), list)  # the bare JSON array, as Compox answers
    assert [record["execution_id"] for record in whole.json()] == submitted  # submission order
    assert whole.headers["x-total-count"] == "5"
    assert all(record["session_token"] == session for record in whole.json())  # no tokens configured: shown

    pages = [client.get("/api/v0/execute-algorithm/all", params={"session_token": session, "limit": 2,
                                                                "offset": offset}) for offset in (0, 2, 4, 6)]
    assert [[record["execution_id"] for record in page.json()] for page in pages] == [
        submitted[0:2], submitted[2:4], submitted[4:], []]
    assert {page.headers["x-total-count"] for page in pages} == {"5"}

    by_status = client.get("/api/v0/execute-algorithm/all", params={"session_token": session, "status": "FAILED"})
    assert (by_status.json(), by_status.headers["x-total-count"]) == ([], "0")
    by_algorithm = client.get("/api/v0/execute-algorithm/all", params={"algorithm_id": algorithms["invert"],
                                                                       "status": "COMPLETED", "limit": 1})
    assert by_algorithm.json()[0]["algorithm_id"] == algorithms["invert"]
    assert int(by_algorithm.headers["x-total-count"]) >= 5

    newest_first = client.get("/api/v0/executions", params={"session_token": session, "limit": 3, "offset": 1})
    assert [record["execution_id"] for record in newest_first.json()] == submitted[::-1][1:4]
    assert newest_first.headers["x-total-count"] == "5"
    for bad in ({"limit": 0}, {"offset": -1}, {"status": "DONE"}, {"limit": "many"}):
        response = client.get("/api/v0/execute-algorithm/all", params=bad)
        assert (response.status_code, response.json()["code"]) == (422, "request_validation_error")


@pytest.mark.parametrize("path", ["/api/v0/sample/all", "/api/v0/checkpoint/all", "/api/v0/algorithm/all",
                                  "/api/v0/training/all", "/api/v0/executions", "/api/v0/execute-algorithm/all"])
def test_every_list_endpoint_pages_and_counts(client, path):
    if path == "/api/v0/sample/all":
        file_id = client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"]
        for _ in range(3):
            client.post("/api/v0/sample", json={"files": [{"input": [file_id]}]})
    whole = client.get(path)
    assert whole.status_code == 200
    total = int(whole.headers["x-total-count"])
    assert total == len(whole.json())
    if path in ("/api/v0/sample/all", "/api/v0/algorithm/all"):
        assert total >= 3  # three samples made above; three bundled packages
    if total:
        second = client.get(path, params={"limit": 1, "offset": 1})
        key = next(name for name in whole.json()[0] if name.endswith("_id"))  # records change (progress, sizes)
        assert [item[key] for item in second.json()] == [item[key] for item in whole.json()[1:2]]
        assert second.headers["x-total-count"] == str(total)
    beyond = client.get(path, params={"offset": total + 5})
    assert (beyond.json(), beyond.headers["x-total-count"]) == ([], str(total))


def test_training_listing_filters(local_server):
    with local_server.client() as client:
        listed = client.get("/api/v0/training/all", params={"status": "PENDING", "algorithm_id": ids.new_id()})
        assert (listed.status_code, listed.json(), listed.headers["x-total-count"]) == (200, [], "0")
        bad = client.get("/api/v0/training/all", params={"status": "DONE"})
        assert (bad.status_code, bad.json()["code"]) == (422, "request_validation_error")


def test_deleting_an_execution_takes_its_outputs_unless_referenced(runtime):
    server, client, algorithms = runtime
    first, second = finished_executions(client, algorithms["invert"], 2, f"delete-{ids.new_id()}")
    kept_output = second["output_dataset_ids"][0]
    assert client.post("/api/v0/sample", json={"files": [{"input": [kept_output]}]}).status_code == 200

    for record in (first, second):
        response = client.delete(f"/api/v0/execute-algorithm/{record['execution_id']}")
        assert (response.status_code, response.json()) == (200, {"detail": "Deleted execution record"})
        assert client.get(f"/api/v0/executions/{record['execution_id']}").json()["code"] == "execution_record_not_found"
    assert client.get(f"/api/v0/files/{first['output_dataset_ids'][0]}").json()["code"] == "file_not_found"
    assert client.get(f"/api/v0/files/{kept_output}").status_code == 200  # a sample references it
    assert client.get(f"/api/v0/files/{first['input_dataset_ids'][0]}").status_code == 200  # inputs stay
    again = client.delete(f"/api/v0/execute-algorithm/{first['execution_id']}")
    assert (again.status_code, again.json()["code"]) == (404, "execution_record_not_found")


def test_deleting_a_running_execution_stops_it(local_server, algorithms):
    with local_server.client() as client:
        execution_id = execute(client, algorithms["slow_steps"], upload_slices(client, image()),
                               additional_parameters={"steps": 100000, "delay_s": 0.005})
        wait_until(lambda: wait_for(client, execution_id, {"RUNNING"})["progress"] > 0, 30, what="running")
        assert client.delete(f"/api/v0/execute-algorithm/{execution_id}").status_code == 200
        assert client.get(f"/api/v0/executions/{execution_id}").status_code == 404
        # The runner's call returns once the run has stopped (it would otherwise run for minutes).
        dispatcher = local_server.actor("dispatcher")
        wait_until(lambda: execution_id not in ray.get(dispatcher.queued.remote()), 30, what="run stopped")
        assert client.get(f"/api/v0/executions/{execution_id}").status_code == 404  # its late writes change nothing


def test_delete_all_takes_every_execution_record(runtime):
    server, client, algorithms = runtime
    finished_executions(client, algorithms["invert"], 2, f"all-{ids.new_id()}")
    response = client.delete("/api/v0/execute-algorithm/all")
    assert (response.status_code, response.json()) == (200, {"detail": "Deleted all execution records"})
    listed = client.get("/api/v0/execute-algorithm/all")
    assert (listed.json(), listed.headers["x-total-count"]) == ([], "0")
    # The server runs on: a new execution after the purge completes.
    assert finished_executions(client, algorithms["invert"], 1, "after-purge")[0]["status"] == "COMPLETED"


def test_listings_show_session_tokens_to_admin_tokens_only(secured_server):
    user = secured_server.settings.user_tokens[0].get_secret_value()
    admin = secured_server.settings.admin_tokens[0].get_secret_value()
    with secured_server.client(headers={"Authorization": f"Bearer {admin}"}) as client:
        algorithm_id = deploy(client, PACKAGES / "invert")
    with secured_server.client(headers={"Authorization": f"Bearer {user}"}) as client:
        inputs = upload_slices(client, image())
        execution_id = execute(client, algorithm_id, inputs, session_token="a-secret-session")
        wait_for(client, execution_id)
        for path in ("/api/v0/execute-algorithm/all", "/api/v0/executions"):
            listed = {record["execution_id"]: record for record in client.get(path).json()}
            assert listed[execution_id]["session_token"] is None
        assert client.delete("/api/v0/execute-algorithm/all").status_code == 403  # admin only
    with secured_server.client(headers={"Authorization": f"Bearer {admin}"}) as client:
        listed = {record["execution_id"]: record for record in client.get("/api/v0/execute-algorithm/all").json()}
        assert listed[execution_id]["session_token"] == "a-secret-session"
