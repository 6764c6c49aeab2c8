"""Trainings: submit, read, follow (server-sent events), stop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from compox_ray.api.deps import ServicesDep
from compox_ray.api.pagination import PageDep
from compox_ray.api.sse import event_stream_response, last_event_id
from compox_ray.schemas import ErrorBody, IncomingTrainingRequest, ResponseMessage, TrainingRecord, TrainingResponse
from compox_ray.services.trainings import training_record

router = APIRouter(prefix="/api/v0", tags=["training"])
_ERRORS = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.post("/train-algorithm", responses=_ERRORS)
async def train_algorithm(request: IncomingTrainingRequest, services: ServicesDep,
                          idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None
                          ) -> TrainingResponse:
    """A retry with the same ``Idempotency-Key`` answers the training the key created first."""
    return TrainingResponse(training_id=await services.trainings.submit(request, idempotency_key))


@router.get("/training/all")
async def list_trainings(services: ServicesDep, page: PageDep, response: Response,
                         status: Annotated[str | None, Query(pattern="^(PENDING|STARTED|RUNNING|COMPLETED|FAILED|STOPPED)$")] = None,
                         algorithm_id: Annotated[str | None, Query(max_length=200)] = None) -> list[TrainingRecord]:
    """Every training record, oldest first, optionally one status's or algorithm's; ``limit``/
    ``offset`` page it and ``X-Total-Count`` says how many match."""
    rows, total = await services.trainings.list(status, algorithm_id, page.limit, page.offset)
    return page.answer([training_record(row) for row in rows], total, response)


@router.get("/training/{training_id}", responses=_ERRORS)
async def read_training(training_id: str, services: ServicesDep) -> TrainingRecord:
    return training_record(await services.trainings.get(training_id))


@router.get("/training/{training_id}/events", responses=_ERRORS, response_class=StreamingResponse)
async def follow_training(training_id: str, services: ServicesDep, request: Request,
                          last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None
                          ) -> StreamingResponse:
    """text/event-stream of the record on every change, ending after a terminal status (errors as
    for an execution's events)."""
    after = last_event_id(last_event_id_header)
    return event_stream_response(request, await services.trainings.events(training_id, after))


@router.post("/training/{training_id}/stop", responses=_ERRORS)
async def stop_training(training_id: str, services: ServicesDep) -> ResponseMessage:
    await services.trainings.stop(training_id)
    return ResponseMessage(detail="Stop request posted successfully")
