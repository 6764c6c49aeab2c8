"""Record reads answered in the calling process when it runs on the RecordStore's node.

An actor round trip costs about 2 ms on these machines: most of a small file's download and of
a status poll. A process on the RecordStore's node opens the same SQLite file query_only (WAL: it
sees every committed write and never blocks the writer) and answers the pure reads itself.
Writes, waits for changes and every call from another node still go to the actor, which stays
the only writer; a write the caller has awaited is visible to its next read either way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import ray

from compox_ray.settings import Settings
from compox_ray.storage.algorithm_records import AlgorithmRecords
from compox_ray.storage.database import Database
from compox_ray.storage.execution_records import ExecutionRecords
from compox_ray.storage.file_records import FileRecords
from compox_ray.storage.sample_records import SampleRecords
from compox_ray.storage.training_records import TrainingRecords

# RecordStore methods that only read (none writes, waits or depends on the actor's own state).
LOCAL_READS = frozenset({
    "get_file", "missing_files", "file_pins",
    "list_algorithms", "get_algorithm", "find_algorithm", "get_algorithm_version", "latest_package_digest",
    "get_execution", "list_executions", "execution_events",
    "get_training", "list_trainings", "training_events", "get_checkpoint", "list_checkpoints",
    "get_sample", "get_samples", "list_samples", "missing_sample_files",
})


class RecordReads(FileRecords, AlgorithmRecords, SampleRecords, ExecutionRecords, TrainingRecords):
    """The RecordStore's read methods over a query-only connection of this process."""

    def __init__(self, database_path: Path):
        self.db = Database(database_path, query_only=True)


class _Read:
    """Stands in for an actor method: ``.remote(...)`` answers an awaitable, as Ray's does."""

    def __init__(self, records: Records, name: str):
        self._records, self._name = records, name

    def remote(self, *args, **kwargs):
        return self._records.read(self._name, *args, **kwargs)


class Records:
    """The RecordStore's handle, used as the actor handle itself (``await records.get_file.remote(id)``);
    the methods in LOCAL_READS are answered from the database file where this process can open it."""

    def __init__(self, actor, settings: Settings):
        self.actor = actor
        self._database_path = settings.database_path
        self._reads: RecordReads | None = None
        self._placed: asyncio.Task | None = None

    def __getattr__(self, name: str):
        if name.startswith("_"):  # not an actor method (copy and pickle probe for these)
            raise AttributeError(name)
        return _Read(self, name) if name in LOCAL_READS else getattr(self.actor, name)

    async def read(self, name: str, *args, **kwargs):
        reads = await self.local_reads()
        if reads is None:
            return await getattr(self.actor, name).remote(*args, **kwargs)
        return await getattr(reads, name)(*args, **kwargs)

    async def local_reads(self) -> RecordReads | None:
        """Decided once, on first use: the actor must have opened (and migrated) the file first."""
        if self._placed is None:
            self._placed = asyncio.ensure_future(self._open_if_beside())
        try:
            await asyncio.shield(self._placed)
        except Exception:
            self._placed = None  # the actor could not be reached: ask again next time
            raise
        return self._reads

    async def close(self) -> None:
        """Close the file's connection (its thread would otherwise keep a process from exiting)."""
        if self._reads is not None:
            await self._reads.db.close()

    async def _open_if_beside(self) -> None:
        described = await self.actor.describe.remote()
        here = ray.get_runtime_context().get_node_id()
        if described["node_id"] == here and described["database_path"] == str(self._database_path):
            self._reads = RecordReads(self._database_path)
