"""Compox's v1 files (/api/v1/files): the client names an object and moves its bytes through
URLs the server hands out (presigned S3 URLs; on a local store, signed URLs to the ``content``
endpoints below, which need no token: the signature is the credential). The name is then a file
id like any other (services/object_transfers.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from compox_ray.api.auth import public
from compox_ray.api.deps import ServicesDep
from compox_ray.api.files import download_response
from compox_ray.byte_ranges import parse_range
from compox_ray.schemas import ErrorBody, ResponseMessage, UrlResponse

router = APIRouter(prefix="/api/v1/files", tags=["files"])
_ERRORS = {404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 413: {"model": ErrorBody},
           422: {"model": ErrorBody}}
_SIGNED_ERRORS = _ERRORS | {403: {"model": ErrorBody}, 416: {"model": ErrorBody}}
_RAW_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
SignatureQuery = Annotated[str | None, Query(max_length=128)]


def content_endpoint(request: Request, services, route: str, object_name: str) -> str:
    """This server's URL of a ``content`` endpoint, as clients reach it (``public_base_url`` behind
    a proxy, else the URL this request came to)."""
    url = request.url_for(route, object_name=object_name)
    base = services.settings.public_base_url
    return f"{base.rstrip('/')}{url.path}" if base else str(url)


@router.get("/{object_name}/upload-url", responses=_ERRORS)
async def upload_url(object_name: str, request: Request, services: ServicesDep) -> UrlResponse:
    """A URL to PUT the object's bytes to (expires); 409 file_exists once the name is in use.
    Names: 1 to 128 of ``A-Z a-z 0-9 . _ -``, not starting with '.'."""
    endpoint = content_endpoint(request, services, "put_object_content", object_name)
    return UrlResponse(url=await services.transfers.upload_url(object_name, endpoint))


@router.get("/{object_name}/download-url", responses=_ERRORS)
async def download_url(object_name: str, request: Request, services: ServicesDep) -> UrlResponse:
    """A URL to GET the file's bytes (expires); the object is validated here on first use."""
    record = await services.files.require(object_name)
    endpoint = content_endpoint(request, services, "get_object_content", object_name)
    return UrlResponse(url=await services.transfers.download_url(object_name, endpoint, record))


@router.delete("/{object_name}", responses=_ERRORS)
async def delete_object(object_name: str, services: ServicesDep) -> ResponseMessage:
    await services.files.delete(object_name)
    return ResponseMessage(detail="File deleted successfully")


@router.put("/{object_name}/content", responses=_SIGNED_ERRORS, openapi_extra=_RAW_BODY)
@public
async def put_object_content(object_name: str, request: Request, services: ServicesDep,
                             expires: SignatureQuery = None, signature: SignatureQuery = None) -> ResponseMessage:
    """The target of a local store's upload URL: the body becomes the object's bytes."""
    services.transfers.verify("PUT", object_name, expires, signature)
    length = request.headers.get("content-length")
    await services.transfers.receive_upload(object_name, request.stream(),
                                            int(length) if length and length.isdigit() else None)
    return ResponseMessage(detail="Object stored")


@router.get("/{object_name}/content", responses=_SIGNED_ERRORS, response_class=StreamingResponse)
@public
async def get_object_content(object_name: str, services: ServicesDep, expires: SignatureQuery = None,
                             signature: SignatureQuery = None,
                             range_header: Annotated[str | None, Header(alias="Range")] = None) -> Response:
    """The target of a local store's download URL (``Range`` as on /api/v0/files)."""
    services.transfers.verify("GET", object_name, expires, signature)
    return download_response(await services.files.download(object_name, parse_range(range_header)))
