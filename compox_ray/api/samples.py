"""Training samples: create, read, list by tags, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from compox_ray.api.deps import ServicesDep
from compox_ray.api.pagination import PageDep
from compox_ray.schemas import ErrorBody, IncomingSampleRequest, ResponseMessage, SampleRecord, SampleResponse
from compox_ray.services.samples import sample_record

router = APIRouter(prefix="/api/v0/sample", tags=["samples"])
_ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
TagsQuery = Annotated[list[str], Query()]


@router.post("", responses=_ERRORS)
async def create_sample(request: IncomingSampleRequest, services: ServicesDep) -> SampleResponse:
    return SampleResponse(sample_id=await services.samples.create(request))


@router.get("/all")
async def list_samples(services: ServicesDep, page: PageDep, response: Response, positive_tags: TagsQuery = [],
                       negative_tags: TagsQuery = []) -> list[SampleRecord]:
    """Samples with every positive tag and no negative one; ``[]`` when none match; ``limit``/
    ``offset`` page it and ``X-Total-Count`` says how many match."""
    return page.slice([sample_record(row) for row in await services.samples.list(positive_tags, negative_tags)],
                      response)


@router.get("/{sample_id}", responses=_ERRORS)
async def read_sample(sample_id: str, services: ServicesDep) -> SampleRecord:
    return sample_record(await services.samples.get(sample_id))


@router.delete("/{sample_id}", responses=_ERRORS)
async def delete_sample(sample_id: str, services: ServicesDep) -> ResponseMessage:
    await services.samples.delete(sample_id)
    return ResponseMessage(detail="Sample deleted successfully")
