"""Client: executions end to end, their typed errors, stops and Ctrl-C."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from compox_ray.client import CompoxRayError, RunFailed, RunResult, RunStopped
from tests.client.conftest import volume


def wait_for_status(compox, run_id: str, statuses: tuple[str, ...], timeout_s: float = 60) -> dict:
    """Read the record until it has one of ``statuses`` (the server's own view, not the client's wait)."""
    deadline = time.monotonic() + timeout_s
    while (record := compox.status(run_id))["status"] not in statuses:
        assert time.monotonic() < deadline, f"{run_id} still {record['status']}"
        time.sleep(0.05)
    return record


def test_run_uploads_waits_and_answers_the_outputs_as_arrays(compox, test_algorithms):
    data = volume(5)
    seen = []
    result = compox.run("test_invert", data, {"offset": 1.5}, on_update=lambda record: seen.append(record["status"]))
    assert isinstance(result, RunResult) and result.record["status"] == "COMPLETED"
    expected = data.max(axis=(1, 2), keepdims=True) - data + 1.5
    np.testing.assert_allclose(result["image"], expected, rtol=1e-6)
    assert list(result) == ["image"] and len(result.items) == data.shape[0] == len(result.file_ids)
    assert seen[-1] == "COMPLETED" and result.record["additional_parameters"]["offset"] == 1.5


def test_run_takes_file_ids_names_ids_records_device_and_session(compox, test_algorithms):
    inputs = compox.upload_slices(volume(6))
    session = str(uuid.uuid4())
    by_id = compox.run(test_algorithms["invert"], inputs, {"mode": "copy"}, device="cpu", session=session)
    by_record = compox.run(compox.algorithm("test_invert"), inputs[0], {"mode": "copy"}, session=session,
                           minor=by_id.record["algorithm_minor_version"])
    np.testing.assert_array_equal(by_id["image"], volume(6))
    np.testing.assert_array_equal(by_record["image"][0], volume(6)[0])
    assert by_id.record["session_token"] == session == by_record.record["session_token"]
    assert [e["execution_id"] for e in compox.executions(session=session)] == [by_record.execution_id,
                                                                                by_id.execution_id]
    assert len(compox.executions(session=session, status="COMPLETED")) == 2
    assert compox.executions(session=session, status="FAILED") == []


def test_bundled_denoiser_then_segmentation(compox):
    rng = np.random.default_rng(0)
    clean = np.zeros((8, 24, 24), np.float32)
    clean[2:6, 6:18, 6:18] = 1.0
    noisy = clean + rng.normal(scale=0.3, size=clean.shape).astype(np.float32)
    denoised = compox.run("denoise_3d", noisy, {"method": "gaussian", "sigma": 1.0})
    assert np.mean((denoised["image"] - clean) ** 2) < np.mean((noisy - clean) ** 2)
    mask = compox.run("threshold_segmentation", denoised.file_ids, {"method": "otsu"}, download=True)["mask"]
    assert mask.shape == clean.shape and 0.5 < mask[clean > 0].mean()


def test_no_wait_answers_the_id_and_wait_follows_it(compox, test_algorithms):
    execution_id = compox.run("test_slow_steps", volume()[:2], {"steps": 3, "delay_s": 0.01}, wait=False)
    assert isinstance(execution_id, str)
    result = compox.wait(execution_id)
    assert result.execution_id == execution_id and result["image"].shape == (2, 16, 16)
    assert compox.status(execution_id)["status"] == "COMPLETED"
    without_outputs = compox.wait(execution_id, kind="execution", download=False)
    assert without_outputs.items == [] and len(without_outputs.file_ids) == 2


def test_a_failed_run_raises_run_failed_with_its_log(compox, test_algorithms):
    with pytest.raises(RunFailed) as failed:
        compox.run("test_raiser", volume()[:1])
    error = failed.value
    assert error.code == "execution_failed" and error.record["status"] == "FAILED"
    assert "deliberate failure in inference" in error.log and "deliberate failure" in error.detail
    assert isinstance(error, CompoxRayError) and error.status is None


def test_a_stopped_run_raises_run_stopped(compox, test_algorithms):
    execution_id = compox.run("test_slow_steps", volume()[:1], {"steps": 400, "delay_s": 0.05}, wait=False)
    wait_for_status(compox, execution_id, ("RUNNING",))
    assert compox.stop(execution_id) == "Stop request posted successfully"
    with pytest.raises(RunStopped) as stopped:
        compox.wait(execution_id)
    assert stopped.value.code == "execution_stopped" and stopped.value.record["status"] == "STOPPED"
    assert "Stop requested" in stopped.value.log
    with pytest.raises(CompoxRayError) as again:
        compox.stop(execution_id)
    assert (again.value.status, again.value.code) == (400, "execution_not_stoppable")


def test_ctrl_c_while_waiting_stops_the_run_on_the_server(compox, test_algorithms, capsys):
    """A KeyboardInterrupt raised inside the wait (here from the progress callback, as Ctrl-C
    raises it in the main thread) stops the run on the server, then goes on."""
    seen = {}

    def interrupt_once_running(record: dict) -> None:
        seen.setdefault("id", record["execution_id"])
        if record["status"] == "RUNNING":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compox.run("test_slow_steps", volume()[:1], {"steps": 400, "delay_s": 0.05}, on_update=interrupt_once_running)
    record = wait_for_status(compox, seen["id"], ("STOPPED", "COMPLETED", "FAILED"))
    assert record["status"] == "STOPPED" and "Stop requested" in record["log"]
    assert f"asked execution {seen['id']} to stop" in capsys.readouterr().err


def test_request_errors_carry_status_code_and_detail(compox, test_algorithms):
    inputs = compox.upload_slices(volume()[:1])
    with pytest.raises(CompoxRayError) as invalid:
        compox.run("test_invert", inputs, {"offset": 99.0})
    assert (invalid.value.status, invalid.value.code) == (422, "invalid_parameters")
    assert "offset" in invalid.value.detail
    with pytest.raises(CompoxRayError) as unknown:
        compox.run(str(uuid.uuid4()), inputs)
    assert (unknown.value.status, unknown.value.code) == (404, "algorithm_not_found")
    missing_input = str(uuid.uuid4())
    with pytest.raises(CompoxRayError) as missing:
        compox.run("test_invert", [missing_input])
    assert missing.value.code == "input_datasets_not_found"
    assert missing.value.details["missing_dataset_ids"] == [missing_input]
    with pytest.raises(CompoxRayError) as no_run:
        compox.status(str(uuid.uuid4()))
    assert (no_run.value.status, no_run.value.code) == (404, "run_not_found")
    with pytest.raises(CompoxRayError) as no_execution:
        compox.wait(str(uuid.uuid4()), kind="execution")
    assert no_execution.value.code == "execution_record_not_found"


def test_progress_bar_shows_on_stderr(local_server, test_algorithms, capsys):
    from compox_ray.client import Client

    with Client(local_server.url) as client:
        client.run("test_slow_steps", volume()[:1], {"steps": 3, "delay_s": 0.01})
    err = capsys.readouterr().err
    assert "test_slow_steps" in err and "100%" in err and "COMPLETED" in err
