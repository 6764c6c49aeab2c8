"""Execution records (a part of the RecordStore actor): the shared run lifecycle of
run_records.py, plus inputs pinned while an execution is active and its place in the queue."""

from __future__ import annotations

import json
import time
from collections import deque

from compox_ray.storage.run_records import ACTIVE, TERMINAL, RunKind, RunRecords, log_line

__all__ = ["ACTIVE", "TERMINAL", "EXECUTIONS", "ExecutionRecords", "log_line"]

EXECUTIONS = RunKind(noun="Execution", table="executions", key="execution_id", events="execution_events",
                     json_fields=("input_dataset_ids", "additional_parameters", "output_dataset_ids"),
                     not_found_code="execution_record_not_found", not_stoppable_code="execution_not_stoppable",
                     outputs_field="output_dataset_ids")


# How long a runner's STARTED write waits for a record still being written (see start_execution).
RECORD_WAIT_S = 5.0


class ExecutionRecords(RunRecords):
    rejected_executions: deque[str]  # ids whose create_execution wrote nothing, the latest ones

    async def create_execution(self, record: dict) -> list[str]:
        """Insert a PENDING execution and pin its inputs; or, if inputs are missing, nothing and
        the missing ids."""
        execution_id = record["execution_id"]
        written = False
        try:
            async with self.db.write() as conn:
                missing = await self.pin_files_in(conn, EXECUTIONS.holder(execution_id), record["input_dataset_ids"])
                if not missing:
                    (next_seq,), = await conn.execute_fetchall(
                        "SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM executions")
                    await self._run_insert(conn, EXECUTIONS, dict(record, queue_seq=next_seq))
            written = not missing
        finally:
            if not written:  # rejected, or the write failed: a runner handed it stops waiting now
                self.rejected_executions.append(execution_id)
            self.changes.notify(f"executions:{execution_id}")
        return missing

    async def get_execution(self, execution_id: str) -> dict | None:
        row = await self._run_get(EXECUTIONS, execution_id)
        if row is not None:
            row["queue_position"] = None
            if row["status"] == "PENDING":
                ahead = await self.db.fetch_one(
                    "SELECT COUNT(*) AS n FROM executions WHERE status = 'PENDING' AND device_class = ? "
                    "AND queue_seq < ?", (row["device_class"], row["queue_seq"]))
                row["queue_position"] = ahead["n"]
        return row

    async def list_executions(self, session_token: str | None, status: str | None, limit: int) -> list[dict]:
        """Newest first, optionally only one session's or one status's."""
        rows = await self.db.fetch_all(
            "SELECT execution_id FROM executions WHERE (:token IS NULL OR session_token = :token) "
            "AND (:status IS NULL OR status = :status) ORDER BY queue_seq DESC LIMIT :limit",
            {"token": session_token, "status": status, "limit": limit})
        return [await self.get_execution(row["execution_id"]) for row in rows]

    async def start_execution(self, execution_id: str, lease_owner: str, lease_s: float, device: str) -> bool:
        """PENDING -> STARTED for the runner that will run it; False if it is no longer PENDING.

        The Api hands an execution to the Dispatcher while its record is being written, so the
        record may not be there yet: this waits for create_execution's outcome (up to
        RECORD_WAIT_S; a record that comes later is PENDING and gets dispatched again)."""
        if not await self._execution_written(execution_id):
            return False
        return await self._run_start(EXECUTIONS, execution_id, lease_owner, lease_s, device,
                                     resolved_execution_device=device)

    async def _execution_written(self, execution_id: str) -> bool:
        deadline = time.monotonic() + RECORD_WAIT_S
        while execution_id not in self.rejected_executions:
            with self.changes.listening(f"executions:{execution_id}") as changed:
                if await self.db.fetch_one("SELECT 1 FROM executions WHERE execution_id = ?", (execution_id,)):
                    return True
                if not await self.changes.changed(changed, deadline - time.monotonic()):
                    return False
        return False

    async def report_execution(self, execution_id: str, progress: float | None, log_lines: str = "",
                               new_files: list[tuple[str, int, float]] = ()) -> bool:
        return await self._run_report(EXECUTIONS, execution_id, progress, log_lines, new_files)

    async def finish_execution(self, execution_id: str, status: str, output_dataset_ids: list[str] | None = None,
                               message: str = "", level: str = "INFO", pending_log: str = "",
                               new_files: list[tuple[str, int, float]] = ()) -> bool:
        """COMPLETED is written last, with its outputs; FAILED and STOPPED clear them. The inputs'
        pins go (their own expiry applies again). ``pending_log`` and ``new_files``: what the run
        wrote since its last report (the files get their records whatever the status)."""
        return await self._run_finish(EXECUTIONS, execution_id, status, message, level, pending_log, new_files,
                                      output_dataset_ids=json.dumps(output_dataset_ids or []))

    async def request_stop(self, execution_id: str) -> str:
        return await self._run_request_stop(EXECUTIONS, execution_id)

    async def renew_execution_leases(self, lease_owner: str, execution_ids: list[str], until: float) -> None:
        await self._run_renew(EXECUTIONS, lease_owner, execution_ids, until)

    async def fail_expired_executions(self, now: float) -> list[str]:
        return await self._run_fail_expired(EXECUTIONS, now, "runner")

    async def pending_executions(self) -> list[dict]:
        return await self.db.fetch_all(
            "SELECT execution_id, time_started FROM executions WHERE status = 'PENDING' ORDER BY queue_seq")

    async def execution_events(self, execution_id: str, after_revision: int) -> list[dict]:
        return await self._run_events(EXECUTIONS, execution_id, after_revision, self.get_execution)

    async def wait_execution_change(self, execution_id: str, after_revision: int, timeout_s: float) -> bool:
        return await self._run_wait(EXECUTIONS, execution_id, after_revision, timeout_s)

    async def _sweep_executions(self, conn, now: float) -> list[str]:
        await self._run_purge(conn, EXECUTIONS, now)
        return []
