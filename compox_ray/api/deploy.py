"""Deploying algorithm packages (Compox /api/v0/deploy): a server-side path (sync or as a job),
a zip sent as the body, and removing removable versions. Admin operations: with ``admin_token``
set, they need ``Authorization: Bearer <token>``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from compox_ray import timestamps
from compox_ray.algorithms.manifest import ALGORITHM_NAME, MAJOR_VERSION
from compox_ray.algorithms.wire_models import AlgorithmDeployResponse, DeployRecord, DeployResponse
from compox_ray.api.deps import ServicesDep
from compox_ray.errors import CompoxError
from compox_ray.schemas import ErrorBody, ResponseMessage
from compox_ray.services.package_deploy import DeployOverrides

router = APIRouter(prefix="/api/v0/deploy", tags=["deploy"])
_ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 422)}
_ZIP_BODY = {"requestBody": {"required": True, "content": {
    "application/zip": {"schema": {"type": "string", "format": "binary"}}}}}


def require_admin(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> None:
    token = services.settings.admin_token
    if token is None:
        return
    if not authorization or not authorization.lower().startswith("bearer "):
        raise CompoxError(401, "unauthorized", "This operation needs 'Authorization: Bearer <admin token>'.")
    if not hmac.compare_digest(authorization[7:].strip().encode(), token.encode()):
        raise CompoxError(403, "forbidden", "The admin token is not valid.")


AdminDep = Annotated[None, Depends(require_admin)]


def deploy_overrides(
        algorithm_name: Annotated[str | None, Query(pattern=ALGORITHM_NAME.pattern,
                                                    description="Register under this name instead")] = None,
        algorithm_major_version: Annotated[str | None, Query(pattern=MAJOR_VERSION.pattern,
                                                             description="Register under this major")] = None,
        removable: Annotated[bool | None, Query(description="Override [tool.compox] removable")] = None,
        exportable: Annotated[bool | None, Query(description="Override [tool.compox] exportable")] = None,
) -> DeployOverrides:
    return DeployOverrides(algorithm_name, algorithm_major_version, removable, exportable)


OverridesDep = Annotated[DeployOverrides, Depends(deploy_overrides)]


def deploy_response(result: dict) -> AlgorithmDeployResponse:
    return AlgorithmDeployResponse(**{name: result[name] for name in AlgorithmDeployResponse.model_fields})


@router.post("/local", responses=_ERRORS)
async def deploy_local(_: AdminDep, services: ServicesDep, overrides: OverridesDep,
                       path: Annotated[str, Query(description="Package folder or .zip on the server")]
                       ) -> AlgorithmDeployResponse:
    """Deploy from a path on the server (inside ``deploy_allowed_dirs``); answers when registered."""
    return deploy_response(await services.algorithms.deploy_local(path, overrides))


@router.post("/local-async", responses=_ERRORS)
async def deploy_local_async(_: AdminDep, services: ServicesDep, overrides: OverridesDep,
                             path: Annotated[str, Query(description="Package folder or .zip on the server")]
                             ) -> DeployResponse:
    """As /local, as a job: poll ``GET /api/v0/deploy/{deploy_id}``."""
    return DeployResponse(deploy_id=await services.algorithms.start_deploy_job(path, overrides))


@router.post("", responses=_ERRORS, openapi_extra=_ZIP_BODY)
async def deploy_zip(_: AdminDep, request: Request, services: ServicesDep,
                     overrides: OverridesDep) -> AlgorithmDeployResponse:
    """Deploy a package zip sent as the raw body (what ``compox-ray deploy`` sends)."""
    length = request.headers.get("content-length")
    size = int(length) if length and length.isdigit() else None
    return deploy_response(await services.algorithms.deploy_zip(request.stream(), size, overrides))


@router.get("/{deploy_id}", responses=_ERRORS)
async def read_deploy(deploy_id: str, services: ServicesDep) -> DeployRecord:
    job = await services.algorithms.read_deploy_job(deploy_id)
    return DeployRecord(**{name: job.get(name) for name in DeployRecord.model_fields} | {
        "time_started": timestamps.iso(job["time_started"]), "time_completed": timestamps.iso(job["time_completed"])})


@router.delete("/algorithm/{algorithm_id}", responses=_ERRORS)
async def delete_algorithm(_: AdminDep, algorithm_id: str, services: ServicesDep,
                           algorithm_minor_version: str | None = None) -> ResponseMessage:
    """Remove one minor version (or all); 400 algorithm_not_removable unless the package allows it."""
    return ResponseMessage(detail=await services.algorithms.delete(algorithm_id, algorithm_minor_version))
