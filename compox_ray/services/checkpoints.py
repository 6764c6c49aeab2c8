"""Checkpoints: the trained assets of a training, with properties, tags and lineage."""

from __future__ import annotations

from compox_ray import ids, timestamps
from compox_ray.errors import CompoxError, not_found
from compox_ray.schemas import AlgorithmCheckpointRecord
from compox_ray.storage.blobs import BlobStore
from compox_ray.tags import normalise_tags


def checkpoint_record(row: dict) -> AlgorithmCheckpointRecord:
    fields = {name: row.get(name) for name in AlgorithmCheckpointRecord.model_fields}
    return AlgorithmCheckpointRecord(**fields | {"created_at": timestamps.iso(row["created_at"])})


class CheckpointService:
    def __init__(self, records, blobs: BlobStore):
        self.records = records
        self.blobs = blobs

    async def get(self, checkpoint_id: str) -> dict:
        row = await self.records.get_checkpoint.remote(checkpoint_id) if ids.is_valid_id(checkpoint_id) else None
        if row is None:
            raise not_found("checkpoint_not_found", f"Checkpoint {checkpoint_id[:64]!r} was not found.")
        return row

    async def require_for(self, checkpoint_id: str, algorithm_id: str) -> dict:
        """The checkpoint, which must come from a training of ``algorithm_id``."""
        row = await self.get(checkpoint_id)
        if row["parent_algorithm_id"] != algorithm_id:
            raise CompoxError(422, "checkpoint_algorithm_mismatch",
                              f"Checkpoint {checkpoint_id} belongs to algorithm {row['parent_algorithm_id']}, "
                              f"not {algorithm_id}.")
        return row

    async def list(self, positive_tags: list[str], negative_tags: list[str]) -> list[dict]:
        return await self.records.list_checkpoints.remote(normalise_tags(positive_tags), normalise_tags(negative_tags))

    async def delete(self, checkpoint_id: str) -> None:
        await self.get(checkpoint_id)
        unreferenced = await self.records.delete_checkpoint.remote(checkpoint_id)
        if unreferenced is None:
            raise not_found("checkpoint_not_found", f"Checkpoint {checkpoint_id!r} was not found.")
        for key in unreferenced:
            await self.blobs.delete(key)
