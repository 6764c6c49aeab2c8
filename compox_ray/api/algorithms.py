"""The algorithm registry (Compox /api/v0/algorithm): list with filters, read, export as zip."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from compox_ray.algorithms.wire_models import AlgorithmRegisteredResponse
from compox_ray.api.deps import ServicesDep
from compox_ray.api.pagination import PageDep
from compox_ray.schemas import ErrorBody

router = APIRouter(prefix="/api/v0/algorithm", tags=["algorithms"])
_ERRORS = {404: {"model": ErrorBody}}
RepeatedQuery = Annotated[list[str], Query()]
EXPORT_CHUNK_BYTES = 4 * 2**20


@router.get("/all")
async def list_algorithms(services: ServicesDep, page: PageDep, response: Response, positive_tag: RepeatedQuery = [],
                          negative_tag: RepeatedQuery = [], algorithm_type: str | None = None,
                          supported_devices: RepeatedQuery = []) -> list[AlgorithmRegisteredResponse]:
    """Algorithms with every positive tag, no negative one, the type and any of the devices; ``[]`` if none;
    ``limit``/``offset`` page it and ``X-Total-Count`` says how many match."""
    return page.slice(await services.algorithms.list(positive_tag, negative_tag, algorithm_type, supported_devices),
                      response)


@router.get("/{algorithm_name}/{algorithm_major_version}", responses=_ERRORS)
async def read_algorithm(algorithm_name: str, algorithm_major_version: str,
                         services: ServicesDep) -> AlgorithmRegisteredResponse:
    """By name (any letter case) and major version, with the metadata of the latest minor version."""
    return await services.algorithms.get(algorithm_name, algorithm_major_version)


def _file_chunks(path: str):
    with open(path, "rb") as package:
        while chunk := package.read(EXPORT_CHUNK_BYTES):
            yield chunk


@router.get("/{algorithm_name}/{algorithm_major_version}/export", response_class=StreamingResponse,
            responses=_ERRORS | {400: {"model": ErrorBody}, 403: {"model": ErrorBody},
                                 200: {"content": {"application/zip": {}}}})
async def export_algorithm(algorithm_name: str, algorithm_major_version: str, services: ServicesDep,
                           algorithm_minor_version: str | None = None,
                           checkpoint_id: str | None = None) -> StreamingResponse:
    """The package as a zip that redeploys as is; omitted minor: the latest; with ``checkpoint_id``,
    the checkpoint's assets replace the package's."""
    exported = await services.algorithms.export(algorithm_name, algorithm_major_version, algorithm_minor_version,
                                                checkpoint_id)
    return StreamingResponse(_file_chunks(str(exported.path)), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{exported.filename}"',
                                      "Content-Length": str(exported.size)},
                             background=BackgroundTask(os.remove, exported.path))
