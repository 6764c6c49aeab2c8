"""Files: upload, download (whole or a byte range), delete (Compox /api/v0/files)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse

from compox_ray.api.deps import ServicesDep
from compox_ray.byte_ranges import parse_range
from compox_ray.schemas import ErrorBody, FileUploadResponse, ResponseMessage
from compox_ray.services.files import Download

router = APIRouter(tags=["files"])
_ERRORS = {404: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody}}
_RAW_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@router.post("/api/v0/files", responses=_ERRORS, openapi_extra=_RAW_BODY)
async def upload_file(request: Request, services: ServicesDep) -> FileUploadResponse:
    """Store one HDF5 item file sent as the raw body (any content type)."""
    length = request.headers.get("content-length")
    file_id = await services.files.upload(request.stream(), int(length) if length and length.isdigit() else None)
    return FileUploadResponse(file_id=file_id)


@router.get("/api/v0/files/{file_id}", responses=_ERRORS | {416: {"model": ErrorBody}},
            response_class=StreamingResponse)
async def download_file(file_id: str, services: ServicesDep,
                        range_header: Annotated[str | None, Header(alias="Range")] = None) -> Response:
    """The file's bytes; with ``Range: bytes=first-last`` (or ``first-``, ``-suffix``) those bytes
    only: 206 with Content-Range, 416 when the range lies past the end."""
    return download_response(await services.files.download(file_id, parse_range(range_header)))


def download_response(download: Download) -> Response:
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(download.length)}
    status = 200
    if download.partial:
        status = 206
        headers["Content-Range"] = f"bytes {download.start}-{download.end}/{download.size}"
    if isinstance(download.body, bytes):
        return Response(download.body, status_code=status, media_type="application/octet-stream", headers=headers)
    return StreamingResponse(download.body, status_code=status, media_type="application/octet-stream",
                             headers=headers)


@router.delete("/api/v0/files/{file_id}", responses=_ERRORS | {409: {"model": ErrorBody}})
async def delete_file(file_id: str, services: ServicesDep) -> ResponseMessage:
    await services.files.delete(file_id)
    return ResponseMessage(detail="File deleted successfully")
