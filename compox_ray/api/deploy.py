"""Deploying algorithm packages (Compox /api/v0/deploy): a server-side path (sync or as a job),
a zip sent as the body, and removing removable versions. Every route here is admin (api/auth.py):
it brings code to run or shows server paths."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request

from compox_ray import timestamps
from compox_ray.algorithms.manifest import ALGORITHM_NAME, MAJOR_VERSION
from compox_ray.algorithms.wire_models import AlgorithmDeployResponse, DeployRecord, DeployResponse
from compox_ray.api.auth import admin
from compox_ray.api.deps import ServicesDep
from compox_ray.errors import CompoxError
from compox_ray.schemas import ErrorBody, ResponseMessage
from compox_ray.services.package_deploy import DeployOverrides

router = APIRouter(prefix="/api/v0/deploy", tags=["deploy"])
_ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 413, 415, 422)}
_ZIP_BODY = {"requestBody": {"required": True, "content": {
    "application/zip": {"schema": {"type": "string", "format": "binary"}}}}}


# What a package body may be sent as. text/plain, form and multipart bodies are what a web page
# can send without a CORS preflight: refused, whatever the Origin rule already did.
PACKAGE_MEDIA_TYPES = frozenset({"application/zip", "application/octet-stream"})


def _media_type(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() if content_type else None


def require_package_body(content_type: Annotated[str | None, Header()] = None) -> None:
    if _media_type(content_type) not in PACKAGE_MEDIA_TYPES:
        raise CompoxError(415, "unsupported_media_type", "A package is sent as the body with Content-Type "
                          "application/zip or application/octet-stream.", content_type=content_type)


def refuse_form_body(content_type: Annotated[str | None, Header()] = None) -> None:
    """The server-path routes take no body; one of a type a web form can send is refused."""
    if content_type is not None and _media_type(content_type) not in PACKAGE_MEDIA_TYPES:
        raise CompoxError(415, "unsupported_media_type", "This route takes no body (the package is on the server).",
                          content_type=content_type)


PackageBodyDep = Annotated[None, Depends(require_package_body)]
NoFormBodyDep = Annotated[None, Depends(refuse_form_body)]


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
@admin
async def deploy_local(_: NoFormBodyDep, services: ServicesDep, overrides: OverridesDep,
                       path: Annotated[str, Query(description="Package folder or .zip on the server")]
                       ) -> AlgorithmDeployResponse:
    """Deploy from a path on the server (inside ``deploy_allowed_dirs``); answers when registered."""
    return deploy_response(await services.algorithms.deploy_local(path, overrides))


@router.post("/local-async", responses=_ERRORS)
@admin
async def deploy_local_async(_: NoFormBodyDep, services: ServicesDep, overrides: OverridesDep,
                             path: Annotated[str, Query(description="Package folder or .zip on the server")]
                             ) -> DeployResponse:
    """As /local, as a job: poll ``GET /api/v0/deploy/{deploy_id}``."""
    return DeployResponse(deploy_id=await services.algorithms.start_deploy_job(path, overrides))


@router.post("", responses=_ERRORS, openapi_extra=_ZIP_BODY)
@admin
async def deploy_zip(_: PackageBodyDep, request: Request, services: ServicesDep,
                     overrides: OverridesDep) -> AlgorithmDeployResponse:
    """Deploy a package zip sent as the raw body (what ``compox-ray deploy`` sends)."""
    length = request.headers.get("content-length")
    size = int(length) if length and length.isdigit() else None
    return deploy_response(await services.algorithms.deploy_zip(request.stream(), size, overrides))


@router.get("/{deploy_id}", responses=_ERRORS)
@admin  # a job shows the server path it deploys from
async def read_deploy(deploy_id: str, services: ServicesDep) -> DeployRecord:
    job = await services.algorithms.read_deploy_job(deploy_id)
    return DeployRecord(**{name: job.get(name) for name in DeployRecord.model_fields} | {
        "time_started": timestamps.iso(job["time_started"]), "time_completed": timestamps.iso(job["time_completed"])})


@router.delete("/algorithm/{algorithm_id}", responses=_ERRORS)
@admin
async def delete_algorithm(algorithm_id: str, services: ServicesDep,
                           algorithm_minor_version: str | None = None) -> ResponseMessage:
    """Remove one minor version (or all); 400 algorithm_not_removable unless the package allows it."""
    return ResponseMessage(detail=await services.algorithms.delete(algorithm_id, algorithm_minor_version))
