"""Every error leaves the server as Compox's body: {"detail", "code", "retryable", "details"?}."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from ray.exceptions import ActorDiedError, ActorUnavailableError
from starlette.exceptions import HTTPException

from compox_ray.errors import CompoxError

logger = logging.getLogger(__name__)
INTERNAL_DETAIL = "Failed due to an internal server error."
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
               413: "payload_too_large"}
# Where we answer 503 (a backing actor gone, streams full), clients are told when to retry, as
# Serve's own back-pressure answer tells them.
RETRY_AFTER = {"Retry-After": "1"}


def error_response(status: int, code: str, detail, retryable: bool = False, details: dict | None = None,
                   headers: dict | None = None) -> JSONResponse:
    body = {"detail": INTERNAL_DETAIL if status >= 500 else detail, "code": code, "retryable": retryable}
    if details:
        body["details"] = details
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def _compox_error(request: Request, error: CompoxError) -> JSONResponse:
    headers = getattr(error, "headers", None) or (RETRY_AFTER if error.status == 503 else None)  # e.g. 416's Content-Range
    return error_response(error.status, error.code, error.detail, error.retryable, error.details, headers=headers)


def _echoable(value):
    """A rejected input as the error body may show it: scalars only (a container may be nested
    past what the encoder recurses through), no lone surrogates (not UTF-8), no NaN (not JSON)."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return None


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = []
    for e in error.errors():
        shown = {k: v for k, v in e.items() if k not in ("ctx", "input")} | {"msg": _echoable(str(e.get("msg")))}
        shown["loc"] = [_echoable(part) for part in e.get("loc", ())]
        if (echoed := _echoable(e.get("input"))) is not None:
            shown["input"] = echoed
        errors.append(shown)
    return error_response(422, "request_validation_error", errors)


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(error.status_code, f"http_{error.status_code}")
    return error_response(error.status_code, code, error.detail, headers=getattr(error, "headers", None))


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, (ActorDiedError, ActorUnavailableError)):
        logger.warning("a backing actor is unavailable: %s", error)
        return error_response(503, "service_unavailable", str(error), retryable=True, headers=RETRY_AFTER)
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_server_error", INTERNAL_DETAIL)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CompoxError, _compox_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
