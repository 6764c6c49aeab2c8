"""Executions: submit, read, list, follow (server-sent events), stop, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from compox_ray.api.auth import admin, holds_admin_token
from compox_ray.api.deps import ServicesDep
from compox_ray.api.pagination import PageDep
from compox_ray.api.sse import event_stream_response, last_event_id
from compox_ray.schemas import (ErrorBody, ExecutionRecord, ExecutionResponse, IncomingExecutionRequest,
                                ResponseMessage)
from compox_ray.services.executions import execution_record

router = APIRouter(prefix="/api/v0", tags=["executions"])
_ERRORS = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
StatusQuery = Annotated[str | None, Query(pattern="^(PENDING|STARTED|RUNNING|COMPLETED|FAILED|STOPPED)$")]
FilterQuery = Annotated[str | None, Query(max_length=200)]


async def session_tokens_shown(request: Request) -> bool:
    """A session token lets its holder use that session's cache: listings show them to admin
    tokens only, once tokens are configured."""
    return holds_admin_token(request)


def listed(rows: list[dict], show_session_tokens: bool) -> list[ExecutionRecord]:
    records = [execution_record(row) for row in rows]
    if not show_session_tokens:
        for record in records:
            record.session_token = None
    return records


@router.post("/execute-algorithm", responses=_ERRORS)
async def execute_algorithm(request: IncomingExecutionRequest, services: ServicesDep,
                            idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
                            ) -> ExecutionResponse:
    """A retry with the same ``Idempotency-Key`` answers the execution the key created first."""
    return ExecutionResponse(execution_id=await services.executions.submit(request, idempotency_key))


@router.get("/execute-algorithm/all")
async def list_all_executions(services: ServicesDep, page: PageDep, response: Response, status: StatusQuery = None,
                              algorithm_id: FilterQuery = None, session_token: FilterQuery = None,
                              show_tokens: Annotated[bool, Depends(session_tokens_shown)] = False
                              ) -> list[ExecutionRecord]:
    """Every execution record in submission order (Compox), optionally one status's, algorithm's
    or session's; ``limit``/``offset`` page it and ``X-Total-Count`` says how many match."""
    rows, total = await services.executions.list(session_token, status, algorithm_id, newest_first=False,
                                                 limit=page.limit, offset=page.offset)
    return page.answer(listed(rows, show_tokens), total, response)


@router.delete("/execute-algorithm/all")
@admin
async def delete_all_executions(services: ServicesDep) -> ResponseMessage:
    """Every execution record goes, as DELETE /execute-algorithm/{id} deletes one (admin)."""
    await services.executions.delete_all()
    return ResponseMessage(detail="Deleted all execution records")


@router.delete("/execute-algorithm/{execution_id}", responses=_ERRORS)
async def delete_execution(execution_id: str, services: ServicesDep) -> ResponseMessage:
    """The record and its outputs that no sample or other run references; a running execution
    stops at its next progress or log call."""
    await services.executions.delete(execution_id)
    return ResponseMessage(detail="Deleted execution record")


@router.get("/executions")
async def list_executions(services: ServicesDep, page: PageDep, response: Response, session_token: FilterQuery = None,
                          status: StatusQuery = None, algorithm_id: FilterQuery = None,
                          show_tokens: Annotated[bool, Depends(session_tokens_shown)] = False) -> list[ExecutionRecord]:
    """Newest first; ``[]`` when none match (a filter Compox does not have); paged as above."""
    rows, total = await services.executions.list(session_token, status, algorithm_id, newest_first=True,
                                                 limit=page.limit, offset=page.offset)
    return page.answer(listed(rows, show_tokens), total, response)


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
