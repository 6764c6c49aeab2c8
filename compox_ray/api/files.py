"""Files: upload, download, delete (Compox /api/v0/files) and presigned URLs (/api/v1/files)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from compox_ray.api.deps import ServicesDep
from compox_ray.schemas import ErrorBody, FileUploadResponse, ResponseMessage, UrlResponse

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


@router.get("/api/v0/files/{file_id}", responses=_ERRORS, response_class=StreamingResponse)
async def download_file(file_id: str, services: ServicesDep) -> Response:
    record, body = await services.files.download(file_id)
    if isinstance(body, bytes):
        return Response(body, media_type="application/octet-stream")
    return StreamingResponse(body, media_type="application/octet-stream",
                             headers={"Content-Length": str(record["size"])})


@router.delete("/api/v0/files/{file_id}", responses=_ERRORS | {409: {"model": ErrorBody}})
async def delete_file(file_id: str, services: ServicesDep) -> ResponseMessage:
    await services.files.delete(file_id)
    return ResponseMessage(detail="File deleted successfully")


@router.get("/api/v1/files/{file_id}/upload-url", responses=_ERRORS)
async def upload_url(file_id: str, services: ServicesDep) -> UrlResponse:
    """A presigned PUT URL (S3 stores); the file is registered on its first use by id."""
    return UrlResponse(url=await services.files.presigned_url(file_id, "PUT"))


@router.get("/api/v1/files/{file_id}/download-url", responses=_ERRORS)
async def download_url(file_id: str, services: ServicesDep) -> UrlResponse:
    return UrlResponse(url=await services.files.presigned_url(file_id, "GET"))
