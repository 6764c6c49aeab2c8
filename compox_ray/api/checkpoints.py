"""Checkpoints: read, list by tags, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from compox_ray.api.deps import ServicesDep
from compox_ray.schemas import AlgorithmCheckpointRecord, ErrorBody, ResponseMessage
from compox_ray.services.checkpoints import checkpoint_record

router = APIRouter(prefix="/api/v0/checkpoint", tags=["checkpoints"])
_ERRORS = {404: {"model": ErrorBody}}
TagsQuery = Annotated[list[str], Query()]


@router.get("/all")
async def list_checkpoints(services: ServicesDep, positive_tags: TagsQuery = [],
                           negative_tags: TagsQuery = []) -> list[AlgorithmCheckpointRecord]:
    """Checkpoints with every positive tag and no negative one; ``[]`` when none match."""
    return [checkpoint_record(row) for row in await services.checkpoints.list(positive_tags, negative_tags)]


@router.get("/{checkpoint_id}", responses=_ERRORS)
async def read_checkpoint(checkpoint_id: str, services: ServicesDep) -> AlgorithmCheckpointRecord:
    return checkpoint_record(await services.checkpoints.get(checkpoint_id))


@router.delete("/{checkpoint_id}", responses=_ERRORS)
async def delete_checkpoint(checkpoint_id: str, services: ServicesDep) -> ResponseMessage:
    await services.checkpoints.delete(checkpoint_id)
    return ResponseMessage(detail="Checkpoint deleted successfully")
