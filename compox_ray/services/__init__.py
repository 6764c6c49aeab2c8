"""Operations behind the routes, callable without HTTP (client, CLI, tests)."""

from __future__ import annotations

from dataclasses import dataclass

from compox_ray.services.files import FileService
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.blobs import BlobStore, open_blob_store
from compox_ray.storage.records_actor import RecordStore


@dataclass
class Services:
    settings: Settings
    records: object  # RecordStore actor handle
    blobs: BlobStore
    files: FileService

    @classmethod
    def start(cls, settings: Settings) -> Services:
        """Find or create the singleton actors and build the services of one Api replica."""
        from compox_ray.runtime.housekeeper import Housekeeper

        records = singleton(RecordStore, settings, "records")
        blobs = open_blob_store(settings)
        singleton(Housekeeper, settings, "housekeeper").start.remote()
        return cls(settings=settings, records=records, blobs=blobs, files=FileService(settings, records, blobs))
