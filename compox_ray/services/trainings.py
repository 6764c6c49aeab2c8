"""Trainings: validate a request, write the PENDING record, hand it to the TrainingSupervisor;
read, stream and stop them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from compox_ray import ids, timestamps
from compox_ray.algorithms.parameters import resolve_parameters
from compox_ray.errors import not_found
from compox_ray.schemas import IncomingTrainingRequest, TrainingRecord
from compox_ray.services.events import event_stream
from compox_ray.services.idempotency import idempotency_fields
from compox_ray.storage.run_records import log_line
from compox_ray.tags import normalise_tags


def training_record(row: dict) -> TrainingRecord:
    fields = {name: row.get(name) for name in TrainingRecord.model_fields}
    fields["time_started"] = timestamps.iso(row["time_started"])
    fields["time_completed"] = timestamps.iso(row["time_completed"])
    return TrainingRecord(**fields)


class TrainingService:
    def __init__(self, records, supervisor, algorithms, checkpoints):
        self.records = records
        self.supervisor = supervisor
        self.algorithms = algorithms
        self.checkpoints = checkpoints

    async def submit(self, request: IncomingTrainingRequest, idempotency_key: str | None = None) -> str:
        """The new training's id; with an ``idempotency_key`` that already created one, that one's."""
        # Shielded: once accepted, a client that hangs up cannot leave a half-submitted training.
        return await asyncio.shield(self._submit(request, idempotency_fields(idempotency_key, request)))

    async def _submit(self, request: IncomingTrainingRequest, idempotency: dict) -> str:
        version = await self.algorithms.require_version(request.algorithm_id, request.algorithm_minor_version)
        if request.checkpoint_id is not None:
            await self.checkpoints.require_for(request.checkpoint_id, version["algorithm_id"])
        found = {s["sample_id"] for s in await self.records.get_samples.remote(request.training_data)}
        missing = [sample_id for sample_id in dict.fromkeys(request.training_data) if sample_id not in found]
        if missing:
            raise not_found("input_samples_not_found", f"{len(missing)} sample(s) were not found.",
                            missing_sample_ids=missing)
        missing_files = await self.records.missing_sample_files.remote(request.training_data)
        if missing_files:
            raise not_found("sample_files_not_found", f"{len(missing_files)} file(s) of the samples were not found.",
                            missing_file_ids=missing_files)
        manifest = version["manifest"]
        parameters, warnings = resolve_parameters(manifest.get("training_parameters") or [],
                                                  request.additional_parameters or {})
        training_id = ids.new_id()
        record = {
            "training_id": training_id,
            "algorithm_id": version["algorithm_id"],
            "algorithm_minor_version": version["algorithm_minor_version"],
            "checkpoint_id": request.checkpoint_id,
            "training_data": request.training_data,
            "additional_parameters": parameters,
            "tags": normalise_tags(request.tags),
            "resources": manifest.get("training_resources") or {},
            "state": {},
            "output_checkpoint_ids": [],
            "time_started": timestamps.now(),
            "log": "".join(log_line(w, "WARNING") for w in warnings),
            **idempotency,
        }
        if existing := await self.records.create_training.remote(record):
            return existing  # a retry: the key's training is already submitted
        await self.supervisor.submit.remote(training_id)
        return training_id

    async def get(self, training_id: str) -> dict:
        row = await self.records.get_training.remote(training_id) if ids.is_valid_id(training_id) else None
        if row is None:
            raise not_found("training_record_not_found", f"Training {training_id[:64]!r} was not found.")
        return row

    async def list(self, status: str | None = None, algorithm_id: str | None = None, limit: int | None = None,
                   offset: int = 0) -> tuple[list[dict], int]:
        """A page of the matching trainings (oldest first) and how many match in all."""
        page = await self.records.list_trainings.remote(status, algorithm_id, limit, offset)
        return page["records"], page["total"]

    async def stop(self, training_id: str) -> None:
        await self.get(training_id)
        status = await self.records.request_training_stop.remote(training_id)
        self.supervisor.stop.remote(training_id, status)  # cancels later if it does not stop by itself

    async def events(self, training_id: str, last_event_id: int) -> AsyncIterator[str]:
        current = await self.get(training_id)
        return event_stream("training", lambda after: self.records.training_events.remote(training_id, after),
                            lambda after: self.records.wait_training_change.remote(training_id, after, 15.0),
                            lambda row: training_record(row).model_dump_json(), last_event_id, current)
