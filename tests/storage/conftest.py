"""Storage tests run against a RecordStore actor of their own, on a database under tmp_path."""

from __future__ import annotations

import pytest
import ray

from compox_ray.settings import Settings
from compox_ray.storage.records_actor import RecordStore


@pytest.fixture
def record_store(serve_port, tmp_path):
    """``record_store(**settings)``: a RecordStore with its database open, killed after the test."""
    started = []

    def start(**settings):
        actor = RecordStore.remote(Settings(data_dir=tmp_path, **settings))
        ray.get(actor.describe.remote())
        started.append(actor)
        return actor

    yield start
    for actor in started:
        ray.kill(actor)
