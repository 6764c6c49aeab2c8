"""Every error leaves the server as Compox's body: {"detail", "code", "retryable", "details"?}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from ray.exceptions import ActorDiedError, ActorUnavailableError
from starlette.exceptions import HTTPException

from compox_ray.errors import CompoxError

logger = logging.getLogger(__name__)
INTERNAL_DETAIL = "Failed due to an internal server error."
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


def error_response(status: int, code: str, detail, retryable: bool = False, details: dict | None = None,
                   headers: dict | None = None) -> JSONResponse:
    body = {"detail": INTERNAL_DETAIL if status >= 500 else detail, "code": code, "retryable": retryable}
    if details:
        body["details"] = details
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def _compox_error(request: Request, error: CompoxError) -> JSONResponse:
    return error_response(error.status, error.code, error.detail, error.retryable, error.details)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = [{k: v for k, v in e.items() if k != "ctx"} | {"msg": str(e.get("msg"))} for e in error.errors()]
    return error_response(422, "request_validation_error", errors)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(error.status_code, f"http_{error.status_code}")
    return error_response(error.status_code, code, error.detail, headers=getattr(error, "headers", None))


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, (ActorDiedError, ActorUnavailableError)):
        logger.warning("a backing actor is unavailable: %s", error)
        return error_response(503, "service_unavailable", str(error), retryable=True)
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_server_error", INTERNAL_DETAIL)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CompoxError, _compox_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
