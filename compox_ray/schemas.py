"""Wire models: field names follow Compox 3.2.0, which existing clients rely on."""

from __future__ import annotations

from pydantic import BaseModel


class ResponseMessage(BaseModel):
    detail: str | None = None


class ErrorBody(BaseModel):
    detail: str | list
    code: str
    retryable: bool = False
    details: dict | None = None


class RootMessage(BaseModel):
    name: str
    tags: list[str]
    group: str
    organization: str
    domain: str
    version: str
    cuda_available: bool | None = None
    cuda_capable_devices_count: int | None = None


class FileUploadResponse(BaseModel):
    file_id: str


class UrlResponse(BaseModel):
    url: str
