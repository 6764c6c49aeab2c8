"""Runner deployments: the replicas that run algorithms, kept warm per algorithm version.

RunnerCpu replicas take CPU slots, RunnerGpu replicas a configurable GPU share (the Serve config
sets ``num_gpus``). Both are multiplexed by ``<algorithm_id>:<minor>:<checkpoint_id>``: a loaded
algorithm (its Runner after ``load_assets``) stays in the replica's LRU until evicted, and Serve
routes a key to a replica that holds it where it can. ``max_ongoing_requests`` must not exceed
``models_per_replica``: an evicted model is deleted even while a request still uses it.

Called by: the Dispatcher, through a Serve handle, one ``execute`` per execution (a benchmark is
an execution of kind "benchmark": the package's ``benchmark`` runs instead of its algorithm).
The replica writes STARTED, progress and the terminal status itself and renews the lease of every
run it holds; if the replica dies, the Dispatcher's call fails and the execution ends FAILED.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback

import ray
from ray import serve
from ray.serve.config import RequestRouterConfig

from compox_ray import metrics, timestamps
from compox_ray.algorithms.benchmark_outputs import BenchmarkRefused
from compox_ray.algorithms.loader import load_algorithm
from compox_ray.runners.context import RunStopped
from compox_ray.runtime.run_context import ExecutionContext
from compox_ray.runtime.sessions import SessionManager
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.blobs import open_blob_store
from compox_ray.storage.records_actor import RecordStore

logger = logging.getLogger(__name__)


def runner_key(algorithm_id: str, minor: str | None, checkpoint_id: str | None) -> str:
    return f"{algorithm_id}:{minor or ''}:{checkpoint_id or ''}"


def parse_runner_key(key: str) -> tuple[str, str | None, str | None]:
    algorithm_id, minor, checkpoint_id = key.split(":")
    return algorithm_id, minor or None, checkpoint_id or None


def failure_message(error: BaseException) -> str:
    """The exception and where it came from, innermost frames last (as a traceback reads)."""
    return "".join(traceback.format_exception(error)).strip()


class AlgorithmRunner:
    def __init__(self, settings: Settings, device_class: str):
        self.settings = settings
        self.records = singleton(RecordStore, settings, "records")
        self.sessions = singleton(SessionManager, settings, "sessions")
        self.blobs = open_blob_store(settings)
        self.replica_id = serve.get_replica_context().replica_id.unique_id
        self.device, self.device_label, self.device_warning = self._concrete_device(device_class)
        self.active: set[str] = set()
        self.load_count = 0
        self._lease_task: asyncio.Task | None = None
        # Models per replica come from the settings, so the wrapper is made per instance, around a
        # plain function (Serve keeps its LRU as an attribute of what it wraps).
        async def load(key: str):
            return await self._load(key)

        self.load = serve.multiplexed(max_num_models_per_replica=settings.models_per_replica)(load)

    @staticmethod
    def _concrete_device(device_class: str) -> tuple[str, str, str | None]:
        node = ray.util.get_node_ip_address()
        if device_class == "gpu":
            import torch

            gpu_ids = ray.get_gpu_ids()
            if torch.cuda.is_available() and gpu_ids:
                # Ray exposes only the granted GPU to this process: it is cuda:0 here.
                return "cuda", f"cuda:{gpu_ids[0]}@{node}", None
            return "cpu", f"cpu@{node}", "This replica holds a GPU share but sees no CUDA device; running on cpu."
        return "cpu", f"cpu@{node}", None

    async def _load(self, key: str):
        algorithm_id, minor, checkpoint_id = parse_runner_key(key)
        loaded = await asyncio.to_thread(load_algorithm, self.settings, algorithm_id, minor, checkpoint_id,
                                         self.device)
        self.load_count += 1
        return loaded

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            if self.active:
                try:
                    await self.records.renew_execution_leases.remote(
                        self.replica_id, list(self.active), timestamps.now() + self.settings.lease_s)
                except Exception:
                    logger.exception("lease renewal failed")

    async def execute(self, record: dict) -> str:
        """Run one execution (its record as submitted) to its end; answers the status it ended with
        ("skipped" if it was not PENDING any more: stopped meanwhile, taken by another replica, or
        never written because the request was rejected)."""
        if self._lease_task is None:
            self._lease_task = asyncio.get_running_loop().create_task(self._renew_leases())
        execution_id = record["execution_id"]
        # STARTED first: an execution stopped or rejected meanwhile never costs a model load.
        if not await self.records.start_execution.remote(execution_id, self.replica_id, self.settings.lease_s,
                                                         self.device_label):
            return "skipped"
        self.active.add(execution_id)
        try:
            try:
                loads_before = self.load_count
                loaded = await self.load(serve.get_multiplexed_model_id())
                metrics.count_warm_model(hit=self.load_count == loads_before)
            except Exception as error:
                message = f"could not load the algorithm: {failure_message(error)}"
                await self.records.finish_execution.remote(execution_id, "FAILED", level="ERROR", message=message)
                return "FAILED"
            return await self._run(loaded, record)
        finally:
            self.active.discard(execution_id)

    async def _run(self, loaded, record: dict) -> str:
        execution_id = record["execution_id"]
        context = ExecutionContext(record=record, device=self.device,
                                   records=self.records, sessions=self.sessions, blobs=self.blobs,
                                   flush_s=self.settings.progress_flush_s,
                                   max_item_bytes=self.settings.max_item_bytes)
        kind = record.get("kind") or "execution"
        started = time.monotonic()
        # Off the event loop (health checks, lease renewal and other requests keep flowing), in one
        # thread hand-off from the device warning to what the terminal write carries.
        status, outputs, data, message, level, pending_log, new_files = await asyncio.to_thread(
            self._run_in_thread, loaded, context, record)
        await self.records.finish_execution.remote(execution_id, status, outputs, message, level,
                                                   pending_log=pending_log, new_files=new_files, data=data)
        metrics.observe_run_time(kind, loaded.algorithm_name, status, time.monotonic() - started)
        return status

    def _run_in_thread(self, loaded, context: ExecutionContext, record: dict) -> tuple:
        """The run's status, outputs, a benchmark's data, closing log line and level, and what is
        still batched (the log lines and new files that go with the terminal write: one call, in
        order). A benchmark runs the package's ``benchmark`` instead of its algorithm."""
        data = None
        try:
            if self.device_warning:
                context.report_log(self.device_warning, "WARNING")
            if record.get("kind") == "benchmark":
                outputs, data = [], loaded.benchmark(context)
            else:
                outputs = list(loaded.execute(context, record["input_dataset_ids"]) or [])
            status, message, level = "COMPLETED", "Completed.", "INFO"
        except RunStopped:
            outputs, status, message, level = [], "STOPPED", "Stopped at the client's request.", "INFO"
        except BenchmarkRefused as refused:
            outputs, status, message, level = [], "FAILED", str(refused), "ERROR"
        except Exception as error:
            outputs, status, message, level = [], "FAILED", failure_message(error), "ERROR"
        return (status, outputs, data, message, level, *context.take_pending())

    def stats(self) -> dict:
        """For tests and operators: which replica, how many algorithm loads it has done."""
        return {"replica_id": self.replica_id, "load_count": self.load_count, "device": self.device_label}


# A replica being shut down does not wait long for runs in flight: their records end FAILED either
# way (the Dispatcher's call fails), and a stopping server should stop promptly.
# Executions queued behind busy replicas wait in Serve's router, which retries with exponential
# backoff and is not woken when a slot frees: by default from 25 ms up to 0.5 s, far longer than a
# short execution. Retrying every few milliseconds (at most 20) costs the router a local check.
QUEUED_RETRY = RequestRouterConfig(initial_backoff_s=0.002, backoff_multiplier=2, max_backoff_s=0.02)


@serve.deployment(name="RunnerCpu", num_replicas=1, max_ongoing_requests=2, graceful_shutdown_timeout_s=3,
                  request_router_config=QUEUED_RETRY,
                  ray_actor_options={"num_cpus": 1})  # defaults; the Serve config YAML overrides
class RunnerCpu(AlgorithmRunner):
    def __init__(self, settings: Settings):
        super().__init__(settings, "cpu")


@serve.deployment(name="RunnerGpu", num_replicas=1, max_ongoing_requests=2, graceful_shutdown_timeout_s=3,
                  request_router_config=QUEUED_RETRY,
                  ray_actor_options={"num_cpus": 0, "num_gpus": 0.5})
class RunnerGpu(AlgorithmRunner):
    def __init__(self, settings: Settings):
        super().__init__(settings, "gpu")
