"""Training and checkpoint records (a part of the RecordStore actor).

A checkpoint is created and appended to its training's output_checkpoint_ids in one
transaction, with the training's (normalised) tags and its checkpoint_id as parent. Asset bytes
are content-addressed blobs (``content/<sha256>``) written before the record; a checkpoint's
delete answers the blob keys no other checkpoint or algorithm version still references.
"""

from __future__ import annotations

import json

from compox_ray.errors import CompoxError
from compox_ray.storage.database import fetch_all
from compox_ray.storage.run_records import RunKind, RunRecords
from compox_ray.storage.sample_records import tag_filter

TRAININGS = RunKind(noun="Training", table="trainings", key="training_id", events="training_events",
                    json_fields=("training_data", "additional_parameters", "tags", "resources", "state",
                                 "output_checkpoint_ids"),
                    not_found_code="training_record_not_found", not_stoppable_code="training_not_stoppable")
_CHECKPOINT_JSON = ("properties", "tags", "assets")


def content_key(sha256: str) -> str:
    return f"content/{sha256}"


class TrainingRecords(RunRecords):
    async def create_training(self, record: dict) -> str | None:
        """Insert a PENDING training; when its ``idempotency_key`` already created one, nothing
        is written and that one's id answers."""
        async with self.db.write() as conn:
            existing = await self._run_for_idempotency_key(conn, TRAININGS, record)
            if existing is not None:
                return existing
            await self._run_insert(conn, TRAININGS, record)
        return None

    async def get_training(self, training_id: str) -> dict | None:
        return await self._run_get(TRAININGS, training_id)

    async def list_trainings(self, status: str | None = None, algorithm_id: str | None = None,
                             limit: int | None = None, offset: int = 0) -> dict:
        """``{"total": every match, "records": the page}``, oldest first; ``limit`` None: all."""
        where = "(:status IS NULL OR status = :status) AND (:algorithm IS NULL OR algorithm_id = :algorithm)"
        params = {"status": status, "algorithm": algorithm_id, "limit": -1 if limit is None else limit,
                  "offset": offset}
        total = await self.db.fetch_one(f"SELECT COUNT(*) AS n FROM trainings WHERE {where}", params)
        rows = await self.db.fetch_all(f"SELECT * FROM trainings WHERE {where} ORDER BY time_started, training_id "
                                       "LIMIT :limit OFFSET :offset", params)
        return {"total": total["n"], "records": [self._decode(TRAININGS, row) for row in rows]}

    async def start_training(self, training_id: str, lease_owner: str, lease_s: float, where: str) -> bool:
        return await self._run_start(TRAININGS, training_id, lease_owner, lease_s, where)

    async def report_training(self, training_id: str, progress: float | None, log_lines: str = "",
                              state: dict | None = None, new_files: list[tuple[str, int, float]] = ()) -> bool:
        fields = {} if state is None else {"state": json.dumps(state)}
        return await self._run_report(TRAININGS, training_id, progress, log_lines, new_files, **fields)

    async def finish_training(self, training_id: str, status: str, message: str = "", level: str = "INFO") -> bool:
        return await self._run_finish(TRAININGS, training_id, status, message, level)

    async def note_pending_training(self, training_id: str, message: str) -> bool:
        return await self._run_note_pending(TRAININGS, training_id, message)

    async def request_training_stop(self, training_id: str) -> str:
        return await self._run_request_stop(TRAININGS, training_id)

    async def renew_training_leases(self, lease_owner: str, training_ids: list[str], until: float) -> None:
        await self._run_renew(TRAININGS, lease_owner, training_ids, until)

    async def fail_expired_trainings(self, now: float) -> list[str]:
        return await self._run_fail_expired(TRAININGS, now, "training worker")

    async def pending_trainings(self) -> list[dict]:
        return await self.db.fetch_all(
            "SELECT training_id, time_started FROM trainings WHERE status = 'PENDING' ORDER BY time_started")

    async def training_events(self, training_id: str, after_revision: int) -> list[dict]:
        return await self._run_events(TRAININGS, training_id, after_revision, self.get_training)

    async def wait_training_change(self, training_id: str, after_revision: int, timeout_s: float) -> bool:
        return await self._run_wait(TRAININGS, training_id, after_revision, timeout_s)

    async def _sweep_trainings(self, conn, now: float) -> list[str]:
        await self._run_purge(conn, TRAININGS, now)
        return []

    # -- checkpoints ----------------------------------------------------------------------------
    async def create_checkpoint(self, checkpoint: dict) -> dict:
        """Insert a checkpoint of a running training and append it to the training's outputs."""
        training_id = checkpoint["training_id"]
        async with self.db.write() as conn:
            rows = await fetch_all(conn, "SELECT * FROM trainings WHERE training_id = ?", (training_id,))
            if not rows or rows[0]["status"] not in ("STARTED", "RUNNING"):
                raise CompoxError(409, "training_not_running", f"Training {training_id} is not running.")
            training = self._decode(TRAININGS, rows[0])
            row = dict(checkpoint, parent_algorithm_id=training["algorithm_id"],
                       algorithm_minor_version=training["algorithm_minor_version"],
                       parent_checkpoint_id=training["checkpoint_id"], tags=training["tags"])
            encoded = {k: json.dumps(v) if k in _CHECKPOINT_JSON else v for k, v in row.items()}
            await conn.execute(f"INSERT INTO checkpoints ({', '.join(encoded)}) "
                               f"VALUES ({', '.join(':' + c for c in encoded)})", encoded)
            await conn.executemany("INSERT INTO checkpoint_tags (checkpoint_id, tag) VALUES (?, ?)",
                                   [(row["checkpoint_id"], tag) for tag in row["tags"]])
            outputs = training["output_checkpoint_ids"] + [row["checkpoint_id"]]
            await self._run_change(conn, TRAININGS, training_id, ("STARTED", "RUNNING"),
                                   output_checkpoint_ids=json.dumps(outputs))
        self.changes.notify(f"trainings:{training_id}")
        return row

    async def _checkpoints(self, where: str, params: list) -> list[dict]:
        rows = await self.db.fetch_all(f"SELECT * FROM checkpoints r WHERE {where} ORDER BY created_at", params)
        for row in rows:
            for field in _CHECKPOINT_JSON:
                row[field] = json.loads(row[field])
        return rows

    async def get_checkpoint(self, checkpoint_id: str) -> dict | None:
        rows = await self._checkpoints("r.checkpoint_id = ?", [checkpoint_id])
        return rows[0] if rows else None

    async def list_checkpoints(self, positive: list[str], negative: list[str]) -> list[dict]:
        where, params = tag_filter("checkpoint_tags", "checkpoint_id", positive, negative)
        return await self._checkpoints(where, params)

    async def delete_checkpoint(self, checkpoint_id: str) -> list[str] | None:
        """None if unknown; else the content blob keys nothing references any more."""
        async with self.db.write() as conn:
            rows = await fetch_all(conn, "SELECT assets FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
            if not rows:
                return None
            await conn.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (checkpoint_id,))
            hashes = set(json.loads(rows[0]["assets"]).values())
            return [content_key(h) for h in sorted(hashes) if not await self._content_referenced(conn, h)]

    async def _content_referenced(self, conn, sha256: str) -> bool:
        """Is this content still used by a checkpoint (or, through the hook the algorithm records
        provide, by an algorithm version)?"""
        rows = await fetch_all(conn, "SELECT 1 FROM checkpoints c, json_each(c.assets) a WHERE a.value = ? LIMIT 1",
                               (sha256,))
        if rows:
            return True
        referenced_by_algorithms = getattr(self, "algorithm_content_referenced", None)
        return bool(referenced_by_algorithms and await referenced_by_algorithms(conn, sha256))
