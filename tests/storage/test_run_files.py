"""Files a run writes get their records in batches, with its progress reports and its terminal
write, and whatever its status: a blob a run stored never stays without a record (it would
never expire). On a RecordStore of its own."""

from __future__ import annotations

import time

import pytest
import ray

from compox_ray import ids
from tests.factories.run_records import new_execution, new_training


@pytest.fixture
def records(record_store):
    return record_store(file_expiry_s=1000)


def written(count: int) -> list[tuple[str, int, float]]:
    return [(ids.new_id(), 100 + index, time.time()) for index in range(count)]


def recorded(records, files) -> list[dict | None]:
    return ray.get([records.get_file.remote(file_id) for file_id, _, _ in files])


def test_execution_files_are_recorded_with_reports_and_the_terminal_write(records):
    file_id = ids.new_id()
    ray.get(records.insert_file.remote(file_id, 1, time.time()))
    execution_id = new_execution(records, file_id)
    assert ray.get(records.start_execution.remote(execution_id, "replica", 30, "cpu@test"))
    first, last = written(3), written(2)

    assert ray.get(records.report_execution.remote(execution_id, 0.5, "", first)) is False
    rows = recorded(records, first)
    assert [row["size"] for row in rows] == [100, 101, 102]
    assert all(row["expires_at"] == pytest.approx(row["created_at"] + 1000) for row in rows)
    record = ray.get(records.get_execution.remote(execution_id))
    assert (record["status"], record["progress"]) == ("RUNNING", 0.5)

    outputs = [file_id for file_id, _, _ in first + last]
    assert ray.get(records.finish_execution.remote(execution_id, "COMPLETED", outputs, new_files=last))
    assert None not in recorded(records, last)
    assert ray.get(records.get_execution.remote(execution_id))["output_dataset_ids"] == outputs


def test_files_of_a_run_that_ended_otherwise_are_still_recorded(records):
    file_id = ids.new_id()
    ray.get(records.insert_file.remote(file_id, 1, time.time()))
    execution_id = new_execution(records, file_id)
    assert ray.get(records.start_execution.remote(execution_id, "replica", 30, "cpu@test"))
    assert ray.get(records.finish_execution.remote(execution_id, "FAILED", message="lost", level="ERROR"))

    late, final = written(2), written(1)
    assert ray.get(records.report_execution.remote(execution_id, 0.9, "", late)) is True  # it must stop
    assert not ray.get(records.finish_execution.remote(execution_id, "COMPLETED", [], new_files=final))
    assert None not in recorded(records, late + final)
    record = ray.get(records.get_execution.remote(execution_id))
    assert (record["status"], record["output_dataset_ids"]) == ("FAILED", [])


def test_training_files_are_recorded_with_its_reports(records):
    training_id = new_training(records)
    files = written(2)
    assert ray.get(records.report_training.remote(training_id, None, "", None, files)) is True  # never started
    assert None not in recorded(records, files)
