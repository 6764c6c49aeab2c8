"""PENDING execution and training records written straight to a RecordStore actor."""

from __future__ import annotations

import time

import ray

from compox_ray import ids


def execution_record(file_id: str) -> dict:
    return {"execution_id": ids.new_id(), "algorithm_id": "a", "input_dataset_ids": [file_id],
            "device_class": "cpu", "additional_parameters": {}, "session_token": "t", "time_started": time.time()}


def new_execution(records, file_id: str) -> str:
    record = execution_record(file_id)
    assert ray.get(records.create_execution.remote(record)) == []
    return record["execution_id"]


def new_training(records) -> str:
    training_id = ids.new_id()
    ray.get(records.create_training.remote({
        "training_id": training_id, "algorithm_id": "a", "training_data": [], "additional_parameters": {},
        "tags": [], "resources": {}, "state": {}, "output_checkpoint_ids": [], "time_started": time.time()}))
    return training_id
