"""Dispatcher: one detached actor pinned to the head node (num_cpus=0).

Owns: every execution after its POST. The queue is the PENDING rows of the records; the
Dispatcher calls the Runner deployment for each through a Serve handle (multiplexed by algorithm
version, so warm runners are reused) and awaits it, so neither a client disconnect nor an Api
replica restart touches a submitted execution. Serve does the routing, queueing and scaling.
Called by: Api replicas (``submit``) and its own maintenance loop, which every ``lease_s / 3``
- ends FAILED the running executions whose runner stopped renewing their lease (a dead node,
  a dead replica whose call was owned by an earlier Dispatcher), and
- submits PENDING executions nobody is handling (a submit lost with an Api replica, or every
  PENDING one after this actor restarted: they are resubmitted, not failed).
Benchmarks are executions of kind "benchmark" and go the same way. Every few seconds it also sets
the metrics' gauges: records by status, queue lengths.
On failure: a Runner call that raises (replica died, algorithm could not be reached) ends the
execution FAILED with the reason (a Runner queue that is full is no failure: the execution stays
PENDING and the call is retried); Ray restarts this actor and the loop above reconciles.
"""

from __future__ import annotations

import asyncio
import logging

import ray
from ray import serve
from ray.serve.exceptions import BackPressureError

from compox_ray import metrics, timestamps
from compox_ray.runtime.periodic import every
from compox_ray.runtime.runner_deployment import failure_message, runner_key
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.records_actor import RecordStore

logger = logging.getLogger(__name__)
RUNNER_DEPLOYMENTS = {"cpu": "RunnerCpu", "gpu": "RunnerGpu"}
# Ray's metrics agent takes a process's values every few seconds: refreshing the gauges as often is enough.
_METRICS_INTERVAL_S = 5.0
# A PENDING execution this old that no call is handling was lost on its way here.
_ORPHAN_AFTER_S = 2.0
# Retries of a runner call refused under back-pressure: from 20 ms, doubling, up to 1 s apart.
_BACKPRESSURE_FIRST_RETRY_S = 0.02
_BACKPRESSURE_MAX_RETRY_S = 1.0
# An execution not started this long after its hand-off is told why, if its runners are not up.
_WAIT_NOTICE_S = 2.0


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=10_000)
class Dispatcher:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.records = singleton(RecordStore, settings, "records")
        self.inflight: dict[str, asyncio.Task] = {}
        self._handles: dict[str, object] = {}
        self._maintenance: asyncio.Task | None = None
        self._metrics: asyncio.Task | None = None  # the gauges' refresh loop
        self.backpressure_retries = 0

    async def start(self) -> None:
        if self._maintenance is None:
            loop = asyncio.get_running_loop()
            self._maintenance = loop.create_task(
                every(self.settings.lease_s / 3, self.reconcile, "reconcile executions"))
            self._metrics = loop.create_task(every(_METRICS_INTERVAL_S, self.report_metrics, "report metrics"))

    async def report_metrics(self) -> None:
        """The records' counts by status and the queue lengths, as gauges (compox_ray/metrics.py)."""
        counts = await self.records.run_status_counts.remote()
        metrics.set_runs_by_status(counts["runs"])
        metrics.set_queue_length(counts["queued"])

    def _handle(self, device_class: str):
        if device_class not in self._handles:
            self._handles[device_class] = serve.get_deployment_handle(
                RUNNER_DEPLOYMENTS[device_class], app_name=self.settings.instance)
        return self._handles[device_class]

    async def submit(self, execution_id: str, record: dict | None = None) -> None:
        """Dispatch a PENDING execution; ``record`` saves reading it again when the caller has it
        (the replica's PENDING -> STARTED transition is what decides, not this copy: the Api sends
        it while the record is still being written, and a rejected one never starts)."""
        await self.start()
        if execution_id in self.inflight:
            return
        record = record or await self.records.get_execution.remote(execution_id)
        if record is None or record.get("status", "PENDING") != "PENDING":
            return
        loop = asyncio.get_running_loop()
        self.inflight[execution_id] = loop.create_task(self._dispatch(record))
        loop.create_task(self._tell_if_waiting(execution_id, RUNNER_DEPLOYMENTS[record["device_class"]]))

    async def _dispatch(self, record: dict) -> None:
        execution_id = record["execution_id"]
        key = runner_key(record["algorithm_id"], record["algorithm_minor_version"], record["checkpoint_id"])
        try:
            handle = self._handle(record["device_class"]).options(multiplexed_model_id=key)
            status = await self._call_runner(handle, record)
            logger.info("execution %s: %s", execution_id, status)
        except Exception as error:
            lost = isinstance(error, (ray.exceptions.ActorDiedError, ray.exceptions.ActorUnavailableError))
            reason = f"runner lost: {error}" if lost else f"runner call failed: {failure_message(error)}"
            await self.records.finish_execution.remote(execution_id, "FAILED", message=reason, level="ERROR")
        finally:
            self.inflight.pop(execution_id, None)

    async def _tell_if_waiting(self, execution_id: str, deployment: str) -> None:
        """Work never waits silently: an execution whose runners have no replica up says why
        (busy replicas are what ``queue_position`` already tells)."""
        await asyncio.sleep(_WAIT_NOTICE_S)
        if execution_id not in self.inflight:
            return
        reason = await asyncio.to_thread(runners_down_reason, self.settings.instance, deployment)
        if reason:
            await self.records.note_pending_execution.remote(execution_id, reason)

    async def _call_runner(self, handle, record: dict) -> str:
        """A Runner deployment whose queue is full (its ``max_queued_requests``) refuses a call at
        once with BackPressureError: that is no failure of the execution, which stays PENDING
        while the call is retried, waiting longer each time, until a replica takes it or it stops."""
        delay_s = _BACKPRESSURE_FIRST_RETRY_S
        while True:
            try:
                return await handle.execute.remote(record)
            except BackPressureError:
                self.backpressure_retries += 1
            await asyncio.sleep(delay_s)
            delay_s = min(2 * delay_s, _BACKPRESSURE_MAX_RETRY_S)
            row = await self.records.get_execution.remote(record["execution_id"])
            if row is not None and row["status"] != "PENDING":
                return "skipped"  # stopped while it waited

    def stats(self) -> dict:
        """For tests and operators: executions in hand, runner calls retried under back-pressure."""
        return {"inflight": len(self.inflight), "backpressure_retries": self.backpressure_retries}

    async def reconcile(self) -> None:
        now = timestamps.now()
        failed = await self.records.fail_expired_executions.remote(now)
        if failed:
            logger.warning("failed %d executions whose runner was lost: %s", len(failed), failed)
        for row in await self.records.pending_executions.remote():
            if row["execution_id"] not in self.inflight and now - row["time_started"] > _ORPHAN_AFTER_S:
                await self.submit(row["execution_id"])

    def queued(self) -> list[str]:
        return list(self.inflight)


def runners_down_reason(app_name: str, deployment: str) -> str | None:
    """Why ``deployment`` has no replica to take work (Serve's own words), or None if it has one."""
    status = serve.status().applications.get(app_name)
    deployment_status = status.deployments.get(deployment) if status else None
    if deployment_status is None:
        return f"waiting for resources: the {deployment} deployment does not exist (yet)"
    if deployment_status.replica_states.get("RUNNING", 0) > 0:
        return None
    return f"waiting for resources: no {deployment} replica is running yet ({deployment_status.message or deployment_status.status})"
