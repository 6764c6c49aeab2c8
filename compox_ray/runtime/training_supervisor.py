"""TrainingSupervisor: one detached actor pinned to the head node (num_cpus=0).

Owns: every training after its POST. It submits one Ray task per training with the GPU share and
CPUs of the package's ``[tool.compox] training_resources`` or the server's settings, keeps the
task refs (for stop) and renews the lease of every training it owns.
Called by: Api replicas (``submit``, ``stop``) and its own maintenance loop, which ends FAILED the
trainings whose owner stopped renewing their lease and resubmits PENDING ones nobody handles.
Stop: the record is flagged (the task stops at its next progress or log call); after
``training_stop_grace_s`` the task is cancelled (``ray.cancel`` interrupts Python code).
On failure: a task that raises or whose worker dies ends FAILED with the reason. If this actor
dies its tasks die with it (Ray fate-sharing); Ray restarts it and, once the old leases expire,
the loop above fails those trainings and resubmits the PENDING ones.
"""

from __future__ import annotations

import asyncio
import logging

import ray

from compox_ray import ids, timestamps
from compox_ray.runtime.periodic import every
from compox_ray.runtime.resource_plan import ResourcePlan, describe, never_fits
from compox_ray.runtime.runner_deployment import failure_message
from compox_ray.runtime.training_task import run_training
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.records_actor import RecordStore

logger = logging.getLogger(__name__)
_ORPHAN_AFTER_S = 2.0
# A training not started this long after its task was submitted is told why, if resources are short.
_WAIT_NOTICE_S = 2.0


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=1000)
class TrainingSupervisor:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.records = singleton(RecordStore, settings, "records")
        self.owner = f"training-supervisor-{ids.new_id()[:8]}"  # one per incarnation: leases tell them apart
        self.tasks: dict[str, ray.ObjectRef] = {}
        self._maintenance: asyncio.Task | None = None
        self._plan: ResourcePlan | None = None

    async def start(self) -> None:
        if self._maintenance is None:
            self._maintenance = asyncio.get_running_loop().create_task(
                every(self.settings.lease_s / 3, self.reconcile, "reconcile trainings"))

    async def submit(self, training_id: str) -> None:
        await self.start()
        record = await self.records.get_training.remote(training_id)
        if training_id in self.tasks or record is None or record["status"] != "PENDING":
            return
        resources = record["resources"]
        gpus = await self._gpus()
        num_gpus = resources.get("num_gpus", self.settings.training_num_gpus) if gpus > 0 else 0
        num_cpus = resources.get("num_cpus", (await self._resource_plan()).training_num_cpus)
        request = {"CPU": num_cpus, "GPU": num_gpus}
        if reason := await asyncio.to_thread(never_fits, request):
            await self.records.finish_training.remote(training_id, "FAILED", f"This training can never start: {reason}.",
                                                      "ERROR")
            return
        ref = run_training.options(num_gpus=num_gpus, num_cpus=num_cpus, max_retries=0).remote(
            self.settings, training_id, self.owner, num_gpus)
        self.tasks[training_id] = ref
        loop = asyncio.get_running_loop()
        loop.create_task(self._await(training_id, ref))
        loop.create_task(self._tell_if_waiting(training_id, request))

    @staticmethod
    async def _gpus() -> float:
        return (await asyncio.to_thread(ray.cluster_resources)).get("GPU", 0)

    async def _resource_plan(self) -> ResourcePlan:
        if self._plan is None:
            self._plan = await asyncio.to_thread(ResourcePlan.for_cluster, self.settings)
        return self._plan

    async def _tell_if_waiting(self, training_id: str, request: dict[str, float]) -> None:
        """Work never waits silently: a training whose task Ray cannot place yet says so in its log."""
        await asyncio.sleep(_WAIT_NOTICE_S)
        record = await self.records.get_training.remote(training_id)
        if record is None or record["status"] != "PENDING" or training_id not in self.tasks:
            return
        free = await asyncio.to_thread(ray.available_resources)
        wanted = {name: amount for name, amount in request.items() if amount > 0}
        if all(free.get(name, 0) >= amount for name, amount in wanted.items()):
            return  # placed: its worker is starting
        short = {name: free.get(name, 0) for name in wanted}
        await self.records.note_pending_training.remote(
            training_id, f"waiting for resources: {describe(wanted)} ({describe(short)} free on the cluster)")

    async def _await(self, training_id: str, ref: ray.ObjectRef) -> None:
        try:
            status = await ref
            logger.info("training %s: %s", training_id, status)
        except Exception as error:
            record = await self.records.get_training.remote(training_id)
            stopping = bool(record and record["stop_requested"])
            if isinstance(error, ray.exceptions.TaskCancelledError) or (
                    stopping and isinstance(error, ray.exceptions.WorkerCrashedError)):
                await self.records.finish_training.remote(training_id, "STOPPED", "Stopped: the task was cancelled.")
            else:
                lost = isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                                          ray.exceptions.OutOfMemoryError))
                reason = f"training worker lost: {error}" if lost else failure_message(error)
                await self.records.finish_training.remote(training_id, "FAILED", reason, "ERROR")
        finally:
            self.tasks.pop(training_id, None)

    async def stop(self, training_id: str, status_after_request: str) -> None:
        """Cancel the task: at once if it never started, else after the grace period; a task still
        there one more grace period later (blocked in native code, which the soft cancel cannot
        interrupt) has its worker killed."""
        if status_after_request != "STOPPED":
            await asyncio.sleep(self.settings.training_stop_grace_s)
        for force in (False, True):
            ref = self.tasks.get(training_id)
            if ref is None:
                return
            ray.cancel(ref, force=force)
            await asyncio.sleep(self.settings.training_stop_grace_s)

    async def reconcile(self) -> None:
        now = timestamps.now()
        if self.tasks:
            await self.records.renew_training_leases.remote(self.owner, list(self.tasks), now + self.settings.lease_s)
        failed = await self.records.fail_expired_trainings.remote(now)
        if failed:
            logger.warning("failed %d trainings whose worker was lost: %s", len(failed), failed)
        for row in await self.records.pending_trainings.remote():
            if row["training_id"] not in self.tasks and now - row["time_started"] > _ORPHAN_AFTER_S:
                await self.submit(row["training_id"])
