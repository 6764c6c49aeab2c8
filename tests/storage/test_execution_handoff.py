"""The Api hands an execution to the Dispatcher while its record is being written: the runner's
STARTED write waits for the record, and one whose request was rejected never starts."""

from __future__ import annotations

import time

import pytest
import ray

from compox_ray import ids
from compox_ray.storage.execution_records import RECORD_WAIT_S
from tests.factories.run_records import execution_record


@pytest.fixture
def records(record_store):
    return record_store()


def start(records, execution_id: str):
    return records.start_execution.remote(execution_id, "replica", 30, "cpu@test")


def test_a_start_that_arrives_before_the_record_waits_for_it(records):
    file_id = ids.new_id()
    ray.get(records.insert_file.remote(file_id, 1, time.time()))
    record = execution_record(file_id)
    started = start(records, record["execution_id"])
    time.sleep(0.3)  # the start is waiting now
    assert ray.get(records.create_execution.remote(record)) == []
    assert ray.get(started) is True
    assert ray.get(records.get_execution.remote(record["execution_id"]))["status"] == "STARTED"


def test_a_rejected_execution_never_starts_and_its_runner_is_not_kept_waiting(records):
    record = execution_record(ids.new_id())  # its input does not exist
    waiting = start(records, record["execution_id"])
    time.sleep(0.3)
    assert ray.get(records.create_execution.remote(record)) == [record["input_dataset_ids"][0]]
    began = time.monotonic()
    assert ray.get(waiting) is False
    assert ray.get(start(records, record["execution_id"])) is False  # a start that comes after
    assert time.monotonic() - began < RECORD_WAIT_S  # answered by the rejection, not by the wait
    assert ray.get(records.get_execution.remote(record["execution_id"])) is None
