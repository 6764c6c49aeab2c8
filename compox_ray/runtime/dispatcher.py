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
On failure: a Runner call that raises (replica died, algorithm could not be reached) ends the
execution FAILED with the reason; Ray restarts this actor and the loop above reconciles.
"""

from __future__ import annotations

import asyncio
import logging

import ray
from ray import serve

from compox_ray import timestamps
from compox_ray.runtime.periodic import every
from compox_ray.runtime.runner_deployment import failure_message, runner_key
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.records_actor import RecordStore

logger = logging.getLogger(__name__)
RUNNER_DEPLOYMENTS = {"cpu": "RunnerCpu", "gpu": "RunnerGpu"}
# A PENDING execution this old that no call is handling was lost on its way here.
_ORPHAN_AFTER_S = 2.0


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=10_000)
class Dispatcher:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.records = singleton(RecordStore, settings, "records")
        self.inflight: dict[str, asyncio.Task] = {}
        self._handles: dict[str, object] = {}
        self._maintenance: asyncio.Task | None = None

    async def start(self) -> None:
        if self._maintenance is None:
            self._maintenance = asyncio.get_running_loop().create_task(
                every(self.settings.lease_s / 3, self.reconcile, "reconcile executions"))

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
        self.inflight[execution_id] = asyncio.get_running_loop().create_task(self._dispatch(record))

    async def _dispatch(self, record: dict) -> None:
        execution_id = record["execution_id"]
        key = runner_key(record["algorithm_id"], record["algorithm_minor_version"], record["checkpoint_id"])
        try:
            handle = self._handle(record["device_class"]).options(multiplexed_model_id=key)
            status = await handle.execute.remote(record)
            logger.info("execution %s: %s", execution_id, status)
        except Exception as error:
            lost = isinstance(error, (ray.exceptions.ActorDiedError, ray.exceptions.ActorUnavailableError))
            reason = f"runner lost: {error}" if lost else f"runner call failed: {failure_message(error)}"
            await self.records.finish_execution.remote(execution_id, "FAILED", message=reason, level="ERROR")
        finally:
            self.inflight.pop(execution_id, None)

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
