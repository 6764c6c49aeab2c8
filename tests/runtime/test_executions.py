"""The execution workflow end to end on a real Ray + Serve: upload, execute, poll, stop, download."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np
import pytest
import ray

from compox_ray import ids
from tests.factories.hdf5_files import read_hdf5
from tests.runtime.conftest import execute, read_events, upload_slices, wait_for
from tests.servers import wait_until

RNG = np.random.default_rng(7)


def volume(slices: int = 3, size: int = 16) -> np.ndarray:
    return RNG.random((slices, size, size), dtype=np.float32)


def test_image_runner_output_is_numerically_right(runtime):
    server, client, algorithms = runtime
    data = volume()
    inputs = upload_slices(client, data)
    execution_id = execute(client, algorithms["invert"], inputs, additional_parameters={"offset": 1.5})
    record = wait_for(client, execution_id)
    assert record["status"] == "COMPLETED", record["log"]
    assert record["progress"] == 1.0
    assert record["time_completed"] and record["time_started"].endswith("+00:00")
    assert record["additional_parameters"] == {"offset": 1.5, "mode": "invert"}  # default filled in
    assert ids.is_valid_id(record["session_token"])  # generated, as Compox does
    assert record["resolved_execution_device"].startswith("cpu")
    assert record["algorithm_minor_version"] == "0"
    outputs = record["output_dataset_ids"]
    assert len(outputs) == len(inputs)
    for plane, file_id in zip(data, outputs):
        result = read_hdf5(client.get(f"/api/v0/files/{file_id}").content)["image"]
        np.testing.assert_allclose(result, plane.max() - plane + 1.5, rtol=1e-6)


def test_declared_parameters_are_validated(local_server, algorithms):
    with local_server.client() as client:
        inputs = upload_slices(client, volume(1))
        for bad in ({"offset": 50.0}, {"offset": "high"}, {"mode": "sideways"}):
            response = client.post("/api/v0/execute-algorithm", json={
                "algorithm_id": algorithms["invert"], "input_dataset_ids": inputs, "additional_parameters": bad})
            assert response.status_code == 422, bad
            assert response.json()["code"] == "invalid_parameters"
            assert next(iter(bad)) in response.json()["detail"]


def test_undeclared_parameters_pass_through_with_a_warning(local_server, algorithms):
    with local_server.client() as client:
        inputs = upload_slices(client, volume(1))
        execution_id = execute(client, algorithms["invert"], inputs, additional_parameters={"tile_size": 512})
        record = wait_for(client, execution_id)
        assert record["status"] == "COMPLETED"
        assert record["additional_parameters"] == {"offset": 0.0, "mode": "invert", "tile_size": 512}
        assert "[WARNING]" in record["log"] and "tile_size" in record["log"]


def test_missing_inputs_are_all_listed(local_server, algorithms):
    with local_server.client() as client:
        present = upload_slices(client, volume(1))
        missing = [ids.new_id(), ids.new_id()]
        response = client.post("/api/v0/execute-algorithm", json={
            "algorithm_id": algorithms["invert"], "input_dataset_ids": [missing[0], *present, missing[1]]})
        assert response.status_code == 404
        assert response.json()["code"] == "input_datasets_not_found"
        assert response.json()["details"]["missing_dataset_ids"] == missing


@pytest.mark.parametrize("request_body, code", [
    ({"algorithm_id": "no-such-algorithm"}, "algorithm_not_found"),
    ({"algorithm_minor_version": "99"}, "algorithm_not_found"),
    ({"execution_device_override": "tpu"}, "invalid_execution_device"),
    ({"input_dataset_ids": "not-a-list"}, "request_validation_error"),
])
def test_bad_requests_are_4xx(local_server, algorithms, request_body, code):
    with local_server.client() as client:
        body = {"algorithm_id": algorithms["invert"], "input_dataset_ids": upload_slices(client, volume(1))}
        response = client.post("/api/v0/execute-algorithm", json=body | request_body)
        assert 400 <= response.status_code < 500
        assert response.json()["code"] == code


def test_unknown_execution_is_404(local_server):
    with local_server.client() as client:
        for path in (f"/api/v0/executions/{ids.new_id()}", "/api/v0/executions/" + "x" * 5000):
            assert client.get(path).json()["code"] == "execution_record_not_found"
        response = client.post(f"/api/v0/executions/{ids.new_id()}/stop")
        assert (response.status_code, response.json()["code"]) == (404, "execution_record_not_found")


def test_a_failing_algorithm_ends_failed_with_the_reason(local_server, algorithms):
    with local_server.client() as client:
        execution_id = execute(client, algorithms["raiser"], upload_slices(client, volume(1)))
        record = wait_for(client, execution_id)
        assert record["status"] == "FAILED"
        assert "deliberate failure in inference" in record["log"]
        assert record["output_dataset_ids"] == [] and record["progress"] == 1.0
        # The replica is fine afterwards.
        record = wait_for(client, execute(client, algorithms["invert"], upload_slices(client, volume(1))))
        assert record["status"] == "COMPLETED"


def test_stop_while_running_ends_stopped_quickly_and_the_replica_serves_on(local_server, algorithms):
    with local_server.client() as client:
        inputs = upload_slices(client, volume(1))
        execution_id = execute(client, algorithms["slow_steps"], inputs,
                               additional_parameters={"steps": 100000, "delay_s": 0.005})
        wait_until(lambda: wait_for(client, execution_id, {"RUNNING"})["progress"] > 0, 30, what="running")
        stopped_at = time.monotonic()
        response = client.post(f"/api/v0/executions/{execution_id}/stop")
        assert response.json() == {"detail": "Stop request posted successfully"}
        record = wait_for(client, execution_id, timeout_s=10)
        assert record["status"] == "STOPPED"
        assert time.monotonic() - stopped_at < 1.5
        assert record["progress"] == 1.0 and record["output_dataset_ids"] == []
        again = client.post(f"/api/v0/executions/{execution_id}/stop")
        assert (again.status_code, again.json()["code"]) == (400, "execution_not_stoppable")
        assert wait_for(client, execute(client, algorithms["invert"], inputs))["status"] == "COMPLETED"


def test_a_stopped_pending_execution_never_starts(local_server, algorithms):
    with local_server.client() as client:
        inputs = upload_slices(client, volume(1))
        slow = {"steps": 40, "delay_s": 0.05}
        # The runner replica takes two at a time (max_ongoing_requests): the third waits PENDING.
        busy = [execute(client, algorithms["slow_steps"], inputs, additional_parameters=slow) for _ in range(2)]
        queued = execute(client, algorithms["slow_steps"], inputs, additional_parameters=slow)
        record = client.get(f"/api/v0/executions/{queued}").json()
        assert record["status"] == "PENDING"
        assert record["queue_position"] is not None and record["queue_position"] >= 0
        assert client.post(f"/api/v0/executions/{queued}/stop").status_code == 200
        assert client.get(f"/api/v0/executions/{queued}").json()["status"] == "STOPPED"  # at once
        for execution_id in busy:
            assert wait_for(client, execution_id)["status"] == "COMPLETED"
        time.sleep(0.5)
        record = client.get(f"/api/v0/executions/{queued}").json()
        assert record["status"] == "STOPPED" and "Started on" not in record["log"]


def test_inputs_are_pinned_while_the_execution_runs(local_server, algorithms):
    records = local_server.actor("records")
    with local_server.client() as client:
        inputs = upload_slices(client, volume(1))
        execution_id = execute(client, algorithms["slow_steps"], inputs,
                               additional_parameters={"steps": 20, "delay_s": 0.05})
        assert ray.get(records.file_pins.remote(inputs[0])) == [f"execution:{execution_id}"]
        refused = client.delete(f"/api/v0/files/{inputs[0]}")
        assert refused.status_code == 409 and refused.json()["code"] == "file_in_use", refused.text
        assert refused.json()["details"]["execution_ids"] == [execution_id]
        assert wait_for(client, execution_id)["status"] == "COMPLETED"
        assert ray.get(records.file_pins.remote(inputs[0])) == []
        assert client.delete(f"/api/v0/files/{inputs[0]}").status_code == 200


def test_ten_concurrent_executions_are_all_right(local_server, algorithms):
    with local_server.client() as client:
        volumes = [volume(2, 8) for _ in range(10)]
        inputs = [upload_slices(client, v) for v in volumes]
        with ThreadPoolExecutor(10) as pool:
            execution_ids = list(pool.map(lambda i: execute(client, algorithms["invert"], i), inputs))
        for data, execution_id in zip(volumes, execution_ids):
            record = wait_for(client, execution_id, timeout_s=120)
            assert record["status"] == "COMPLETED", record["log"]
            for plane, file_id in zip(data, record["output_dataset_ids"]):
                np.testing.assert_allclose(read_hdf5(client.get(f"/api/v0/files/{file_id}").content)["image"],
                                           plane.max() - plane, rtol=1e-6)


def test_an_execution_survives_its_client_hanging_up(local_server, algorithms):
    token = f"hangup-{ids.new_id()}"
    with local_server.client() as client:
        inputs = upload_slices(client, volume(1))
    body = json.dumps({"algorithm_id": algorithms["invert"], "input_dataset_ids": inputs,
                       "session_token": token}).encode()
    url = urlsplit(local_server.url)
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(f"POST /api/v0/execute-algorithm HTTP/1.1\r\nHost: {url.netloc}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.3)  # handed over to the server, then the client goes away without reading the answer
    with local_server.client() as client:
        listed = wait_until(lambda: client.get("/api/v0/executions", params={"session_token": token}).json(), 30,
                            what="the execution to be recorded")
        assert wait_for(client, listed[0]["execution_id"])["status"] == "COMPLETED"


def test_server_sent_events_are_ordered_end_at_the_terminal_status_and_resume(local_server, algorithms):
    with local_server.client() as client:
        inputs = upload_slices(client, volume(1))
        execution_id = execute(client, algorithms["slow_steps"], inputs,
                               additional_parameters={"steps": 10, "delay_s": 0.1})
        events = read_events(client, f"/api/v0/executions/{execution_id}/events")
        revisions = [e["id"] for e in events]
        assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
        statuses = [e["record"]["status"] for e in events]
        assert statuses[-1] == "COMPLETED" and "RUNNING" in statuses
        progress = [e["record"]["progress"] for e in events]
        assert progress == sorted(progress) and progress[-1] == 1.0

        # Reconnecting after the third event replays exactly what came after it.
        resumed = read_events(client, f"/api/v0/executions/{execution_id}/events", last_event_id=revisions[2])
        assert [e["id"] for e in resumed] == revisions[3:]


def test_a_warm_algorithm_is_loaded_once(local_server, algorithms):
    import asyncio

    from ray import serve

    async def check() -> None:
        # In one event loop: the test process runs Serve's router on the caller's loop, as the
        # server's processes do.
        runner = serve.get_deployment_handle("RunnerCpu", app_name=local_server.name)
        with local_server.client() as client:
            inputs = upload_slices(client, volume(1))
            assert wait_for(client, execute(client, algorithms["invert"], inputs))["status"] == "COMPLETED"
            loads = (await runner.stats.remote())["load_count"]
            for _ in range(3):
                assert wait_for(client, execute(client, algorithms["invert"], inputs))["status"] == "COMPLETED"
            assert (await runner.stats.remote())["load_count"] == loads

    # Not asyncio.run: the handle's router stays bound to this loop until Serve shuts down.
    asyncio.new_event_loop().run_until_complete(check())


def test_the_terminal_event_carries_the_outputs(local_server, algorithms):
    """Followed from the start, quick runs end in the stream with their outputs and end time."""
    with local_server.client() as client:
        inputs = upload_slices(client, volume(2, 8))
        for _ in range(5):
            execution_id = execute(client, algorithms["invert"], inputs)
            last = read_events(client, f"/api/v0/executions/{execution_id}/events")[-1]["record"]
            assert last["status"] == "COMPLETED"
            assert len(last["output_dataset_ids"]) == 2 and last["time_completed"]
