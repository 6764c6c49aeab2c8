"""Executions: submit, read, follow (server-sent events), stop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from compox_ray.api.deps import ServicesDep
from compox_ray.api.sse import event_stream_response, last_event_id
from compox_ray.schemas import (ErrorBody, ExecutionRecord, ExecutionResponse, IncomingExecutionRequest,
                                ResponseMessage)
from compox_ray.services.executions import execution_record

router = APIRouter(prefix="/api/v0", tags=["executions"])
_ERRORS = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.post("/execute-algorithm", responses=_ERRORS)
async def execute_algorithm(request: IncomingExecutionRequest, services: ServicesDep,
                            idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
                            ) -> ExecutionResponse:
    """A retry with the same ``Idempotency-Key`` answers the execution the key created first."""
    return ExecutionResponse(execution_id=await services.executions.submit(request, idempotency_key))


@router.get("/executions")
async def list_executions(services: ServicesDep, session_token: str | None = None,
                          status: Annotated[str | None, Query(pattern="^(PENDING|STARTED|RUNNING|COMPLETED|FAILED|STOPPED)$")] = None,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[ExecutionRecord]:
    """Newest first; ``[]`` when none match (a filter Compox does not have)."""
    return [execution_record(row) for row in await services.executions.list(session_token, status, limit)]


@router.get("/executions/{execution_id}", responses=_ERRORS)
async def read_execution(execution_id: str, services: ServicesDep) -> ExecutionRecord:
    return execution_record(await services.executions.get(execution_id))


@router.get("/executions/{execution_id}/events", responses=_ERRORS, response_class=StreamingResponse)
async def follow_execution(execution_id: str, services: ServicesDep, request: Request,
                           last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None
                           ) -> StreamingResponse:
    """text/event-stream of the record on every change, ending after a terminal status;
    reconnect with ``Last-Event-ID`` to be sent what was missed (400 ``invalid_last_event_id``
    unless it is a decimal event id; 503 ``service_unavailable`` while the replica's streams are full)."""
    after = last_event_id(last_event_id_header)
    return event_stream_response(request, await services.executions.events(execution_id, after))


@router.post("/executions/{execution_id}/stop", responses=_ERRORS)
async def stop_execution(execution_id: str, services: ServicesDep) -> ResponseMessage:
    await services.executions.stop(execution_id)
    return ResponseMessage(detail="Stop request posted successfully")
