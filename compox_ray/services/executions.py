"""Executions: validate a request, write the PENDING record, hand it to the Dispatcher; read,
stream and stop them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import ray

from compox_ray import ids, timestamps
from compox_ray.algorithms.parameters import resolve_parameters
from compox_ray.errors import not_found
from compox_ray.runtime.devices import gpu_runners_enabled, resolve_device_class
from compox_ray.schemas import ExecutionRecord, IncomingExecutionRequest
from compox_ray.services.events import event_stream
from compox_ray.services.idempotency import idempotency_fields
from compox_ray.storage.run_records import log_line

_GPU_COUNT_TTL_S = 5.0


def execution_record(row: dict) -> ExecutionRecord:
    fields = {name: row.get(name) for name in ExecutionRecord.model_fields}
    fields["time_started"] = timestamps.iso(row["time_started"])
    fields["time_completed"] = timestamps.iso(row["time_completed"]) or ""
    return ExecutionRecord(**fields)


class ExecutionService:
    def __init__(self, records, dispatcher, algorithms, checkpoints, gpu_runners: bool | None = None,
                 transfers=None, blobs=None):
        self.records = records
        self.transfers = transfers  # ObjectTransferService: adopts inputs uploaded by v1 URL
        self.blobs = blobs  # an execution's outputs go with it
        self.gpu_runners = gpu_runners  # the setting: whether RunnerGpu is deployed
        self.dispatcher = dispatcher
        self.algorithms = algorithms
        self.checkpoints = checkpoints
        self._gpus: tuple[float, float] = (0.0, -_GPU_COUNT_TTL_S)  # (count, when read)

    async def cluster_gpus(self) -> float:
        count, read_at = self._gpus
        if time.monotonic() - read_at > _GPU_COUNT_TTL_S:
            resources = await asyncio.to_thread(ray.cluster_resources)
            count = resources.get("GPU", 0.0)
            self._gpus = (count, time.monotonic())
        return count

    async def submit(self, request: IncomingExecutionRequest, idempotency_key: str | None = None) -> str:
        """The new execution's id; with an ``idempotency_key`` that already created one, that one's."""
        # Shielded: once accepted, a client that hangs up cannot leave a half-submitted execution.
        return await asyncio.shield(self._submit(request, idempotency_fields(idempotency_key, request)))

    async def _submit(self, request: IncomingExecutionRequest, idempotency: dict, adopt: bool = True) -> str:
        version = await self.algorithms.require_version(request.algorithm_id, request.algorithm_minor_version)
        if request.checkpoint_id is not None:
            await self.checkpoints.require_for(request.checkpoint_id, version["algorithm_id"])
        manifest = version["manifest"]
        parameters, warnings = resolve_parameters(manifest.get("additional_parameters") or [],
                                                  request.additional_parameters)
        gpus = await self.cluster_gpus()
        device_class, device_warnings = resolve_device_class(
            request.execution_device_override, manifest.get("supported_devices") or [],
            manifest.get("default_device"), gpus if gpu_runners_enabled(self.gpu_runners, gpus) else 0)
        execution_id = ids.new_id()
        record = {
            "execution_id": execution_id,
            "algorithm_id": version["algorithm_id"],
            "algorithm_minor_version": version["algorithm_minor_version"],
            "checkpoint_id": request.checkpoint_id,
            "input_dataset_ids": request.input_dataset_ids,
            "execution_device_override": request.execution_device_override,
            "device_class": device_class,
            "additional_parameters": parameters,
            "session_token": request.session_token or ids.new_id(),
            "time_started": timestamps.now(),
            "log": "".join(log_line(w, "WARNING") for w in warnings + device_warnings),
            **idempotency,
        }
        created = (self.records.create_execution_once if idempotency else self.records.create_execution).remote(record)
        # Handed over while the record is written (the runner's STARTED write waits for it, and a
        # rejected one never starts), so dispatching costs the POST no round trip. Not awaited: the
        # Dispatcher's reconcile loop picks up a PENDING execution whose hand-off was lost.
        self.dispatcher.submit.remote(execution_id, record)
        outcome = await created
        if idempotency:  # the key's earlier execution may answer (this one then was never written)
            execution_id, outcome = outcome["execution_id"], outcome["missing_dataset_ids"]
        if missing := outcome:
            if adopt and self.transfers is not None:
                # Names uploaded by v1 URL get their records on first use; nothing was written for
                # this id, so the execution is submitted afresh once they have them.
                still_missing = await self.transfers.adopt_missing(missing)
                if not still_missing:
                    return await self._submit(request, idempotency, adopt=False)
                missing = still_missing
            raise not_found("input_datasets_not_found", f"{len(missing)} input dataset(s) were not found.",
                            missing_dataset_ids=missing)
        return execution_id

    async def get(self, execution_id: str) -> dict:
        row = await self.records.get_execution.remote(execution_id) if ids.is_valid_id(execution_id) else None
        if row is None or row.get("kind", "execution") != "execution":  # a benchmark is not an execution
            raise not_found("execution_record_not_found", f"Execution {execution_id[:64]!r} was not found.")
        return row

    async def list(self, session_token: str | None = None, status: str | None = None, algorithm_id: str | None = None,
                   newest_first: bool = True, limit: int | None = None, offset: int = 0) -> tuple[list[dict], int]:
        """A page of the matching executions and how many match in all."""
        page = await self.records.list_executions.remote("execution", session_token, status, algorithm_id,
                                                         newest_first, limit, offset)
        return page["records"], page["total"]

    async def delete(self, execution_id: str) -> None:
        """The record, its events and its outputs nothing else references; a running one stops
        at its next progress or log call (its record is gone)."""
        await self.get(execution_id)
        await self._delete([execution_id])

    async def delete_all(self) -> int:
        """Every execution record, as ``delete`` deletes one; how many there were."""
        return await self._delete(None)

    async def _delete(self, execution_ids: list[str] | None) -> int:
        deleted = await self.records.delete_executions.remote(execution_ids)
        for key in deleted["blob_keys"]:  # records first, blobs after: a crash leaves orphans, not dangling records
            await self.blobs.delete(key)
        return len(deleted["deleted"])

    async def stop(self, execution_id: str) -> None:
        await self.get(execution_id)
        await self.records.request_stop.remote(execution_id)

    async def events(self, execution_id: str, last_event_id: int) -> AsyncIterator[str]:
        """Server-sent events: the record on every change, from after ``last_event_id`` to the end."""
        current = await self.get(execution_id)
        return event_stream("execution", lambda after: self.records.execution_events.remote(execution_id, after),
                            lambda after: self.records.wait_execution_change.remote(execution_id, after, 15.0),
                            lambda row: execution_record(row).model_dump_json(), last_event_id, current)

