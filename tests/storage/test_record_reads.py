"""Reads answered from the database file by a process on the RecordStore's node: the same answers
as the actor's, every awaited write visible, and no way to write through them."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from compox_ray import ids
from compox_ray.settings import Settings
from compox_ray.storage.database import Database
from compox_ray.storage.record_reads import Records
from tests.factories.run_records import new_execution


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def actor(record_store):
    return record_store()


def test_reads_on_the_actors_node_are_answered_from_the_file_and_agree_with_the_actor(actor, settings):
    async def scenario(records: Records):
        assert await records.local_reads() is not None  # this test process runs on the head node
        file_id = ids.new_id()
        await records.insert_file.remote(file_id, 7, time.time())  # a write: through the actor
        assert await records.get_file.remote(file_id) == await actor.get_file.remote(file_id)
        assert (await records.get_file.remote(file_id))["size"] == 7

        execution_id = await asyncio.to_thread(new_execution, actor, file_id)
        local = await records.get_execution.remote(execution_id)
        assert local == await actor.get_execution.remote(execution_id)
        assert (local["status"], local["queue_position"]) == ("PENDING", 0)
        assert await records.missing_files.remote([file_id, "absent"]) == ["absent"]

        await records.start_execution.remote(execution_id, "replica", 30, "cpu@test")
        assert (await records.get_execution.remote(execution_id))["status"] == "STARTED"
        events = await records.execution_events.remote(execution_id, 0)
        assert [event["status"] for event in events] == ["PENDING", "STARTED"]

    run_with(Records(actor, settings), scenario)


def test_a_process_that_cannot_open_the_actors_file_asks_the_actor(actor, settings, tmp_path):
    elsewhere = Settings(data_dir=tmp_path / "elsewhere")  # another node would see another path

    async def scenario(records: Records):
        assert await records.local_reads() is None
        file_id = ids.new_id()
        await records.insert_file.remote(file_id, 3, time.time())
        assert (await records.get_file.remote(file_id))["size"] == 3

    run_with(Records(actor, elsewhere), scenario)
    assert not elsewhere.database_path.exists()


def test_a_query_only_database_refuses_writes(actor, settings):  # the actor has created the file
    async def scenario():
        database = Database(settings.database_path, query_only=True)
        try:
            with pytest.raises(RuntimeError, match="query_only"):
                async with database.write():
                    pass
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                await database.fetch_all("DELETE FROM files")
        finally:
            await database.close()

    asyncio.run(scenario())


def run_with(records: Records, scenario) -> None:
    async def closing():
        try:
            await scenario(records)
        finally:
            await records.close()  # its connection's thread would keep pytest from exiting

    asyncio.run(closing())
