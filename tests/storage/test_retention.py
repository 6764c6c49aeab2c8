"""Finished execution and training records are purged ``record_retention_s`` after they end; active
ones and recently finished ones stay. On a RecordStore of its own, so the sweep touches nothing else."""

from __future__ import annotations

import time

import pytest
import ray

from compox_ray import ids
from tests.factories.run_records import new_execution, new_training


@pytest.fixture
def records(record_store):
    return record_store(record_retention_s=100, file_expiry_s=10_000)


def test_records_are_purged_after_their_retention(records):
    file_id = ids.new_id()
    ray.get(records.insert_file.remote(file_id, 1, time.time()))
    finished, active = new_execution(records, file_id), new_execution(records, file_id)
    assert ray.get(records.finish_execution.remote(finished, "COMPLETED", []))
    ended_training, active_training = new_training(records), new_training(records)
    assert ray.get(records.finish_training.remote(ended_training, "FAILED", "test"))

    ray.get(records.sweep.remote(time.time() + 50))  # within the retention: everything stays
    assert ray.get(records.get_execution.remote(finished)) is not None
    assert ray.get(records.get_training.remote(ended_training)) is not None

    ray.get(records.sweep.remote(time.time() + 101))
    assert ray.get(records.get_execution.remote(finished)) is None
    assert ray.get(records.execution_events.remote(finished, 0)) == []
    assert ray.get(records.get_training.remote(ended_training)) is None
    assert ray.get(records.get_execution.remote(active))["status"] == "PENDING"
    assert ray.get(records.get_training.remote(active_training))["status"] == "PENDING"
    assert ray.get(records.file_pins.remote(file_id)) == [f"execution:{active}"]  # the file stays pinned
