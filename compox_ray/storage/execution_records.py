"""Execution records (a part of the RecordStore actor): the shared run lifecycle of
run_records.py, plus inputs pinned while an execution is active and its place in the queue."""

from __future__ import annotations

import json
import time
from collections import deque

from compox_ray.storage.database import fetch_all
from compox_ray.storage.file_records import file_blob_key
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
        return (await self.create_execution_once(record))["missing_dataset_ids"]

    async def create_execution_once(self, record: dict) -> dict:
        """create_execution for a record that may carry an ``idempotency_key``: when the key
        already created an execution, nothing is written and that one's id answers.
        ``{"execution_id": the id that answers, "missing_dataset_ids": [...]}``."""
        execution_id = record["execution_id"]
        written, missing = False, []
        try:
            async with self.db.write() as conn:
                existing = await self._run_for_idempotency_key(conn, EXECUTIONS, record)
                if existing is not None:
                    return {"execution_id": existing, "missing_dataset_ids": []}
                missing = await self.pin_files_in(conn, EXECUTIONS.holder(execution_id), record["input_dataset_ids"])
                if not missing:
                    (next_seq,), = await conn.execute_fetchall(
                        "SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM executions")
                    await self._run_insert(conn, EXECUTIONS, dict(record, queue_seq=next_seq))
            written = not missing
        finally:
            if not written:  # refused, answered by an earlier run, or failed: a runner handed it stops waiting
                self.rejected_executions.append(execution_id)
            self.changes.notify(f"executions:{execution_id}")
        return {"execution_id": execution_id, "missing_dataset_ids": missing}

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

    async def list_executions(self, kind: str = "execution", session_token: str | None = None,
                              status: str | None = None, algorithm_id: str | None = None, newest_first: bool = True,
                              limit: int | None = None, offset: int = 0) -> dict:
        """``{"total": every match, "records": the page}``: records of ``kind`` ("execution" or
        "benchmark") in submission order (``newest_first`` or oldest first), optionally only one
        session's, status's or algorithm's; ``limit`` None: all from ``offset``."""
        where = ("kind = :kind AND (:token IS NULL OR session_token = :token) AND (:status IS NULL OR status = :status) "
                 "AND (:algorithm IS NULL OR algorithm_id = :algorithm)")
        params = {"kind": kind, "token": session_token, "status": status, "algorithm": algorithm_id,
                  "limit": -1 if limit is None else limit, "offset": offset}
        total = await self.db.fetch_one(f"SELECT COUNT(*) AS n FROM executions WHERE {where}", params)
        rows = await self.db.fetch_all(
            f"SELECT * FROM executions WHERE {where} ORDER BY queue_seq {'DESC' if newest_first else 'ASC'} "
            "LIMIT :limit OFFSET :offset", params)
        records = [self._decode(EXECUTIONS, row) for row in rows]
        positions = {}
        if any(record["status"] == "PENDING" for record in records):
            queued = await self.db.fetch_all(
                "SELECT execution_id, device_class FROM executions WHERE status = 'PENDING' ORDER BY queue_seq")
            ahead: dict[str, int] = {}
            for row in queued:
                positions[row["execution_id"]] = ahead.get(row["device_class"], 0)
                ahead[row["device_class"]] = positions[row["execution_id"]] + 1
        for record in records:
            record["queue_position"] = positions.get(record["execution_id"])
        return {"total": total["n"], "records": records}

    async def delete_executions(self, execution_ids: list[str] | None, kind: str = "execution") -> dict:
        """Delete the records of ``execution_ids`` (None: every one of ``kind``), with their events
        and input pins, and the records of their outputs that nothing pins (a sample, another
        run's inputs). A running one stops at its next progress or log call: its record is gone,
        so its runner's writes change nothing. ``{"deleted": ids, "blob_keys": the outputs' blobs}``."""
        selected = "kind = ?" if execution_ids is None else "kind = ? AND execution_id IN (SELECT value FROM json_each(?))"
        params = (kind,) if execution_ids is None else (kind, json.dumps(execution_ids))
        async with self.db.write() as conn:
            rows = await fetch_all(conn, f"SELECT execution_id, output_dataset_ids FROM executions WHERE {selected}",
                                   params)
            deleted = [row["execution_id"] for row in rows]
            outputs = list(dict.fromkeys(output for row in rows for output in json.loads(row["output_dataset_ids"])))
            holders = json.dumps([EXECUTIONS.holder(execution_id) for execution_id in deleted])
            await conn.execute("DELETE FROM file_pins WHERE holder IN (SELECT value FROM json_each(?))", (holders,))
            await conn.execute("DELETE FROM executions WHERE execution_id IN (SELECT value FROM json_each(?))",
                               (json.dumps(deleted),))
            gone = await fetch_all(
                conn, "DELETE FROM files WHERE file_id IN (SELECT value FROM json_each(?)) "
                      "AND NOT EXISTS (SELECT 1 FROM file_pins p WHERE p.file_id = files.file_id) RETURNING file_id",
                (json.dumps(outputs),))
        for execution_id in deleted:
            self.changes.notify(f"executions:{execution_id}")
        return {"deleted": deleted, "blob_keys": [file_blob_key(row["file_id"]) for row in gone]}

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
                               new_files: list[tuple[str, int, float]] = (), data: dict | None = None) -> bool:
        """COMPLETED is written last, with its outputs (a benchmark's ``data`` in the same write);
        FAILED and STOPPED clear them. The inputs' pins go (their own expiry applies again).
        ``pending_log`` and ``new_files``: what the run wrote since its last report (the files get
        their records whatever the status)."""
        measured = {"data": json.dumps(data)} if data is not None and status == "COMPLETED" else {}
        return await self._run_finish(EXECUTIONS, execution_id, status, message, level, pending_log, new_files,
                                      output_dataset_ids=json.dumps(output_dataset_ids or []), **measured)

    async def note_pending_execution(self, execution_id: str, message: str) -> bool:
        return await self._run_note_pending(EXECUTIONS, execution_id, message)

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
