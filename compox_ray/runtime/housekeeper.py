"""Housekeeper: one detached actor pinned to the head node (num_cpus=0).

Owns: the expiry sweep. Every ``sweep_interval_s`` it asks the RecordStore to drop expired,
unpinned files and records past their retention, then deletes the blobs those records named, and
the v1 uploads never adopted (staged objects last written ``file_expiry_s`` ago).
Called by: its own loop; ``sweep_now`` by tests and operators.
On failure: Ray restarts it and the loop starts again; a blob left behind by a crash between the
record delete and the blob delete is an orphan, never a dangling record.
"""

from __future__ import annotations

import asyncio
import logging

import ray

from compox_ray import timestamps
from compox_ray.runtime.periodic import every
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.blobs import open_blob_store
from compox_ray.storage.file_adoption_records import UPLOADS_PREFIX
from compox_ray.storage.records_actor import RecordStore

logger = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=4)
class Housekeeper:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.records = singleton(RecordStore, settings, "records")
        self.blobs = open_blob_store(settings)
        self._loop = None

    async def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(
                every(self.settings.sweep_interval_s, self.sweep_now, "sweep"))

    async def sweep_now(self, at: float | None = None) -> int:
        """One sweep as if the time were ``at`` (default now); the number of blobs deleted."""
        at = at or timestamps.now()
        keys = await self.records.sweep.remote(at)
        keys += await self.blobs.stale_keys(UPLOADS_PREFIX, at - self.settings.file_expiry_s)
        for key in keys:
            await self.blobs.delete(key)
        if keys:
            logger.info("swept %d blobs", len(keys))
        return len(keys)
