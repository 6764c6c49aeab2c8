"""Checkpoints: read, list by tags, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from compox_ray.api.deps import ServicesDep
from compox_ray.api.pagination import PageDep
from compox_ray.schemas import AlgorithmCheckpointRecord, ErrorBody, ResponseMessage
from compox_ray.services.checkpoints import checkpoint_record

router = APIRouter(prefix="/api/v0/checkpoint", tags=["checkpoints"])
_ERRORS = {404: {"model": ErrorBody}}
TagsQuery = Annotated[list[str], Query()]


@router.get("/all")
async def list_checkpoints(services: ServicesDep, page: PageDep, response: Response, positive_tags: TagsQuery = [],
                           negative_tags: TagsQuery = []) -> list[AlgorithmCheckpointRecord]:
    """Checkpoints with every positive tag and no negative one; ``[]`` when none match; ``limit``/
    ``offset`` page it and ``X-Total-Count`` says how many match."""
    rows = await services.checkpoints.list(positive_tags, negative_tags)
    return page.slice([checkpoint_record(row) for row in rows], response)


@router.get("/{checkpoint_id}", responses=_ERRORS)
async def read_checkpoint(checkpoint_id: str, services: ServicesDep) -> AlgorithmCheckpointRecord:
    return checkpoint_record(await services.checkpoints.get(checkpoint_id))


@router.delete("/{checkpoint_id}", responses=_ERRORS)
async def delete_checkpoint(checkpoint_id: str, services: ServicesDep) -> ResponseMessage:
    await services.checkpoints.delete(checkpoint_id)
    return ResponseMessage(detail="Checkpoint deleted successfully")
