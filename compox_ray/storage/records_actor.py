"""RecordStore: one detached actor pinned to the head node, the only process that writes SQLite
(processes on its node may read the file themselves: record_reads.py).

Owns: every record (files and their pins; later algorithms, executions, samples, trainings,
checkpoints: one mixin per resource, one migration per schema change).
Called by: Api replicas, the Dispatcher, the Housekeeper; methods return plain dicts.
On failure: Ray restarts it (max_restarts=-1) and it reopens the same file; a call in flight at
the crash fails to its caller, which answers 503. Its restart never fails live work: liveness is
judged by leases, not by this actor starting.
"""

from __future__ import annotations

import os
from collections import deque

import ray

from compox_ray.settings import Settings
from compox_ray.storage.algorithm_records import AlgorithmRecords
from compox_ray.storage.change_notifier import ChangeNotifier
from compox_ray.storage.database import Database
from compox_ray.storage.execution_records import ExecutionRecords
from compox_ray.storage.file_adoption_records import FileAdoptionRecords
from compox_ray.storage.file_records import FileRecords
from compox_ray.storage.sample_records import SampleRecords
from compox_ray.storage.training_records import TrainingRecords


# Every open event stream keeps one change wait here (up to max_event_streams per Api replica):
# the waits must leave room for the calls that serve everything else, health checks among them.
@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=10_000)
class RecordStore(FileRecords, FileAdoptionRecords, AlgorithmRecords, SampleRecords, ExecutionRecords,
                  TrainingRecords):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.file_expiry_s = settings.file_expiry_s
        self.record_retention_s = settings.record_retention_s
        self.db = Database(settings.database_path)
        self.changes = ChangeNotifier()
        self.rejected_executions = deque(maxlen=1024)

    async def describe(self) -> dict:
        """Liveness probe: opens (and migrates) the database if needed; answers where it runs, the
        file and its schema version."""
        return {"pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id(),
                "database_path": str(self.db.path), "schema_version": await self.db.schema_version()}

    async def sweep(self, now: float) -> list[str]:
        """Run every ``_sweep_*`` step in one transaction; the blob keys to delete afterwards.

        Records go first, blobs after: a crash in between leaves an orphan blob, never a record
        that points at nothing.
        """
        keys: list[str] = []
        async with self.db.write() as conn:
            for name in sorted(dir(self)):
                if name.startswith("_sweep_"):
                    keys += await getattr(self, name)(conn, now)
        return keys
