"""The lifecycle both executions and trainings share: status, progress, log, leases, stop
requests and the event history that server-sent events replay.

Statuses go PENDING -> STARTED -> RUNNING -> COMPLETED | FAILED | STOPPED and never leave a
terminal status: every transition names the statuses it may start from, so a late write (a
runner finishing after its lease expired, a second dispatch of the same run) changes nothing.
Progress only grows and is 1.0 at every terminal status. Each change bumps ``revision`` and
appends a row to the events table (status, progress, length of the append-only log), from which
the record at any revision is rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from compox_ray import metrics, timestamps
from compox_ray.errors import CompoxError
from compox_ray.storage.change_notifier import ChangeNotifier
from compox_ray.storage.database import Database, fetch_all

ACTIVE = ("PENDING", "STARTED", "RUNNING")
TERMINAL = ("COMPLETED", "FAILED", "STOPPED")


@dataclass(frozen=True)
class RunKind:
    noun: str            # "Execution", "Training"
    table: str
    key: str             # the id column
    events: str          # the events table
    json_fields: tuple[str, ...]
    not_found_code: str
    not_stoppable_code: str
    outputs_field: str | None = None  # cleared unless COMPLETED

    def holder(self, run_id: str) -> str:
        """The file-pin holder name of one run."""
        return f"{self.table[:-1]}:{run_id}"


def _kind_label(kind: RunKind, row: dict) -> str:
    """"execution", "benchmark" (executions told apart by their kind column) or "training"."""
    return row.get("kind") or kind.noun.lower()


def log_line(message: str, level: str = "INFO", at: float | None = None) -> str:
    return f"{timestamps.iso(at or timestamps.now())} [{level}] {message}\n"


class RunRecords:
    db: Database
    changes: ChangeNotifier
    record_retention_s: float
    insert_files_in: Callable[..., Awaitable[list[dict]]]  # FileRecords'

    def _decode(self, kind: RunKind, row: dict) -> dict:
        for field in kind.json_fields:
            row[field] = json.loads(row[field])
        return row

    async def _run_insert(self, conn, kind: RunKind, record: dict) -> None:
        row = dict(record, status="PENDING", progress=0.0, revision=1, log=record.get("log", ""))
        for field in kind.json_fields:
            if field in row:
                row[field] = json.dumps(row[field])
        columns = ", ".join(row)
        await conn.execute(f"INSERT INTO {kind.table} ({columns}) VALUES ({', '.join(':' + c for c in row)})", row)
        await self._run_event(conn, kind, row)

    async def _run_get(self, kind: RunKind, run_id: str) -> dict | None:
        row = await self.db.fetch_one(f"SELECT * FROM {kind.table} WHERE {kind.key} = ?", (run_id,))
        return None if row is None else self._decode(kind, row)

    async def _run_for_idempotency_key(self, conn, kind: RunKind, record: dict) -> str | None:
        """Inside the write transaction that would insert ``record``: the id of the run its
        idempotency key already created (None: the key is new or absent). The same key on a
        different request is refused (422), so a mistaken reuse never answers someone else's run."""
        key = record.get("idempotency_key")
        if key is None:
            return None
        rows = await fetch_all(conn, f"SELECT {kind.key} AS run_id, request_fingerprint FROM {kind.table} "
                                     "WHERE idempotency_key = ?", (key,))
        if not rows:
            return None
        if rows[0]["request_fingerprint"] != record.get("request_fingerprint"):
            raise CompoxError(422, "idempotency_key_reused",
                              f"The Idempotency-Key was already used for a different {kind.noun.lower()} request.")
        return rows[0]["run_id"]

    async def _run_change(self, conn, kind: RunKind, run_id: str, allowed_from: tuple[str, ...], *,
                          append_log: str = "", **fields) -> dict | None:
        """Apply ``fields`` if the status is one of ``allowed_from``; the new row, else None."""
        rows = await fetch_all(conn, f"SELECT * FROM {kind.table} WHERE {kind.key} = ?", (run_id,))
        if not rows or rows[0]["status"] not in allowed_from:
            return None
        row = rows[0]
        fields["log"] = row["log"] + append_log
        fields["revision"] = row["revision"] + 1
        if "progress" in fields:
            fields["progress"] = min(1.0, max(row["progress"], float(fields["progress"])))
        assignments = ", ".join(f"{name} = :{name}" for name in fields)
        await conn.execute(f"UPDATE {kind.table} SET {assignments} WHERE {kind.key} = :run_id",
                           fields | {"run_id": run_id})
        row.update(fields)
        await self._run_event(conn, kind, row)
        return row

    async def _run_event(self, conn, kind: RunKind, row: dict) -> None:
        await conn.execute(
            f"INSERT INTO {kind.events} ({kind.key}, revision, status, progress, log_length) VALUES (?, ?, ?, ?, ?)",
            (row[kind.key], row["revision"], row["status"], row["progress"], len(row["log"])))

    async def _run_apply(self, kind: RunKind, run_id: str, allowed_from: tuple[str, ...],
                         new_files: list[tuple[str, int, float]] = (), **changes) -> dict | None:
        """``changes`` if the status allows them; ``new_files`` get their records in the same
        transaction either way."""
        async with self.db.write() as conn:
            await self.insert_files_in(conn, new_files)
            row = await self._run_change(conn, kind, run_id, allowed_from, **changes)
        if row is not None:
            self.changes.notify(f"{kind.table}:{run_id}")
        return row

    async def _run_start(self, kind: RunKind, run_id: str, lease_owner: str, lease_s: float, where: str,
                         **fields) -> bool:
        now = timestamps.now()
        row = await self._run_apply(kind, run_id, ("PENDING",), status="STARTED", lease_owner=lease_owner,
                                    lease_expires_at=now + lease_s,
                                    append_log=log_line(f"Started on {where} by {lease_owner}.", at=now), **fields)
        if row is not None:
            metrics.observe_queue_wait(_kind_label(kind, row), now - row["time_started"])
        return row is not None

    async def _run_note_pending(self, kind: RunKind, run_id: str, message: str) -> bool:
        """A WARNING line in the log of a run that is still PENDING: why it waits."""
        row = await self._run_apply(kind, run_id, ("PENDING",), append_log=log_line(message, "WARNING"))
        return row is not None

    async def _run_report(self, kind: RunKind, run_id: str, progress: float | None, log_lines: str,
                          new_files: list[tuple[str, int, float]] = (), **fields) -> bool:
        """Progress, log and the files written since the last report, from running code; answers
        whether it must stop now. The files get their records whatever the run's status."""
        changes = {"status": "RUNNING", "append_log": log_lines, **fields}
        if progress is not None:
            changes["progress"] = progress
        row = await self._run_apply(kind, run_id, ("STARTED", "RUNNING"), new_files, **changes)
        return True if row is None else bool(row["stop_requested"])  # None: it already ended

    async def _run_finish(self, kind: RunKind, run_id: str, status: str, message: str = "", level: str = "INFO",
                          pending_log: str = "", new_files: list[tuple[str, int, float]] = (), **fields) -> bool:
        assert status in TERMINAL, status
        now = timestamps.now()
        if kind.outputs_field and status != "COMPLETED":
            fields[kind.outputs_field] = "[]"
        async with self.db.write() as conn:
            await self.insert_files_in(conn, new_files)
            row = await self._run_change(conn, kind, run_id, ACTIVE, status=status, progress=1.0, time_completed=now,
                                         lease_owner=None, lease_expires_at=None,
                                         append_log=pending_log + (log_line(message, level, now) if message else ""),
                                         **fields)
            if row is not None:
                await conn.execute("DELETE FROM file_pins WHERE holder = ?", (kind.holder(run_id),))
        if row is not None:
            self.changes.notify(f"{kind.table}:{run_id}")
            metrics.count_finished_run(_kind_label(kind, row), status)
        return row is not None

    async def run_status_counts(self) -> dict:
        """For the metrics: ``{"runs": {(kind, status): n}, "queued": {device class: PENDING n}}``."""
        rows = await self.db.fetch_all(
            "SELECT kind, status, COUNT(*) AS n FROM executions GROUP BY kind, status "
            "UNION ALL SELECT 'training' AS kind, status, COUNT(*) AS n FROM trainings GROUP BY status")
        queued = await self.db.fetch_all(
            "SELECT device_class, COUNT(*) AS n FROM executions WHERE status = 'PENDING' GROUP BY device_class")
        return {"runs": {(row["kind"], row["status"]): row["n"] for row in rows},
                "queued": {row["device_class"]: row["n"] for row in queued}}

    async def _run_request_stop(self, kind: RunKind, run_id: str) -> str:
        """PENDING stops at once and never starts; a running one at its next progress or log call.
        Answers the status after the request ("STOPPING" while it winds down)."""
        row = await self._run_get(kind, run_id)
        if row is None:
            raise CompoxError(404, kind.not_found_code, f"{kind.noun} {run_id} was not found.")
        if row["status"] == "PENDING" and await self._run_finish(kind, run_id, "STOPPED",
                                                                 message="Stopped before it started."):
            return "STOPPED"
        if await self._run_apply(kind, run_id, ("STARTED", "RUNNING"), stop_requested=1,
                                 append_log=log_line("Stop requested.")):
            return "STOPPING"
        status = (await self._run_get(kind, run_id))["status"]
        raise CompoxError(400, kind.not_stoppable_code,
                          f"{kind.noun} {run_id} is {status}; only PENDING, STARTED or RUNNING ones can be stopped.",
                          status=status)

    async def _run_renew(self, kind: RunKind, lease_owner: str, run_ids: list[str], until: float) -> None:
        async with self.db.write() as conn:
            await conn.executemany(
                f"UPDATE {kind.table} SET lease_expires_at = ? WHERE {kind.key} = ? AND lease_owner = ? "
                "AND status IN ('STARTED', 'RUNNING')", [(until, run_id, lease_owner) for run_id in run_ids])

    async def _run_fail_expired(self, kind: RunKind, now: float, what: str) -> list[str]:
        """Running ones whose owner stopped renewing their lease end FAILED."""
        rows = await self.db.fetch_all(
            f"SELECT {kind.key} AS run_id, lease_owner FROM {kind.table} WHERE status IN ('STARTED', 'RUNNING') "
            "AND lease_expires_at < ?", (now,))
        failed = []
        for row in rows:
            if await self._run_finish(kind, row["run_id"], "FAILED", level="ERROR",
                                      message=f"{what} lost: {row['lease_owner']} stopped renewing its lease"):
                failed.append(row["run_id"])
        return failed

    async def _run_events(self, kind: RunKind, run_id: str, after_revision: int, get_current) -> list[dict]:
        """The record as it was at every revision after ``after_revision``.

        Events are read before the record: the record is then at least as new as every event, so
        a terminal event is always rendered from the terminal record (outputs, time_completed)."""
        events = await self.db.fetch_all(
            f"SELECT revision, status, progress, log_length FROM {kind.events} "
            f"WHERE {kind.key} = ? AND revision > ? ORDER BY revision", (run_id, after_revision))
        current = await get_current(run_id)
        if current is None:
            return []
        snapshots = []
        for event in events:
            snapshot = dict(current, status=event["status"], progress=event["progress"],
                            log=current["log"][: event["log_length"]], revision=event["revision"])
            if event["revision"] != current["revision"] and event["status"] not in TERMINAL:
                snapshot["time_completed"] = None
                snapshot["queue_position"] = None
                if kind.outputs_field:
                    snapshot[kind.outputs_field] = []
            snapshots.append(snapshot)
        return snapshots

    async def _run_wait(self, kind: RunKind, run_id: str, after_revision: int, timeout_s: float) -> bool:
        with self.changes.listening(f"{kind.table}:{run_id}") as changed:
            row = await self.db.fetch_one(f"SELECT revision FROM {kind.table} WHERE {kind.key} = ?", (run_id,))
            if row is None or row["revision"] > after_revision:
                return True
            return await self.changes.changed(changed, timeout_s)

    async def _run_purge(self, conn, kind: RunKind, now: float) -> None:
        await conn.execute(f"DELETE FROM {kind.table} WHERE time_completed IS NOT NULL AND time_completed < ?",
                           (now - self.record_retention_s,))
