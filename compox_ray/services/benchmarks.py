"""Benchmarks: a package's ``Runner.benchmark(args)`` run on the runners like an execution.

A benchmark is an execution record of kind "benchmark" (no inputs, no outputs): it queues, runs,
stops and fails as executions do, and the runner writes what ``benchmark`` reported as its
``data``, checked against the package's ``benchmark_outputs``, in the same write as COMPLETED
(a package without ``benchmark``, or a report that does not match, ends FAILED with the reason).
"""

from __future__ import annotations

import asyncio
import json

from compox_ray import ids, timestamps
from compox_ray.algorithms.parameters import resolve_parameters
from compox_ray.errors import not_found
from compox_ray.runtime.devices import gpu_runners_enabled, resolve_device_class
from compox_ray.schemas import BenchmarkRecord, IncomingBenchmarkRequest
from compox_ray.storage.run_records import log_line


def benchmark_record(row: dict) -> BenchmarkRecord:
    computed = {"benchmark_id", "time_started", "time_completed", "data"}
    fields = {name: row[name] for name in BenchmarkRecord.model_fields if name in row and name not in computed}
    return BenchmarkRecord(**fields, benchmark_id=row["execution_id"],
                           time_started=timestamps.iso(row["time_started"]),
                           time_completed=timestamps.iso(row["time_completed"]) or "",
                           data=json.loads(row["data"]) if row.get("data") else {})


class BenchmarkService:
    def __init__(self, records, dispatcher, algorithms, executions):
        self.records = records
        self.dispatcher = dispatcher
        self.algorithms = algorithms
        self.executions = executions  # for the cluster's GPUs and the gpu_runners setting

    async def submit(self, request: IncomingBenchmarkRequest) -> str:
        # Shielded: once accepted, a client that hangs up cannot leave a half-submitted benchmark.
        return await asyncio.shield(self._submit(request))

    async def _submit(self, request: IncomingBenchmarkRequest) -> str:
        version = await self.algorithms.require_version(request.algorithm_id, request.algorithm_minor_version)
        manifest = version["manifest"]
        parameters, warnings = resolve_parameters(manifest.get("additional_parameters") or [],
                                                  request.additional_parameters)
        gpus = await self.executions.cluster_gpus()
        device_class, device_warnings = resolve_device_class(
            request.execution_device_override, manifest.get("supported_devices") or [],
            manifest.get("default_device"), gpus if gpu_runners_enabled(self.executions.gpu_runners, gpus) else 0)
        benchmark_id = ids.new_id()
        record = {
            "execution_id": benchmark_id,
            "kind": "benchmark",
            "algorithm_id": version["algorithm_id"],
            "algorithm_minor_version": version["algorithm_minor_version"],
            "checkpoint_id": None,
            "input_dataset_ids": [],
            "execution_device_override": request.execution_device_override,
            "device_class": device_class,
            "additional_parameters": parameters,
            "session_token": ids.new_id(),
            "time_started": timestamps.now(),
            "log": "".join(log_line(w, "WARNING") for w in warnings + device_warnings),
        }
        created = self.records.create_execution.remote(record)
        self.dispatcher.submit.remote(benchmark_id, record)  # while the record is written, as an execution
        await created
        return benchmark_id

    async def get(self, benchmark_id: str) -> dict:
        row = await self.records.get_execution.remote(benchmark_id) if ids.is_valid_id(benchmark_id) else None
        if row is None or row.get("kind") != "benchmark":
            raise not_found("benchmark_record_not_found", f"Benchmark {benchmark_id[:64]!r} was not found.")
        return row
