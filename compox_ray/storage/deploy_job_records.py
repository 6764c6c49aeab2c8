"""Records of asynchronous deploys (POST /api/v0/deploy/local-async; part of the RecordStore actor).

The Api replica running a deploy renews its lease; a job still PENDING or RUNNING whose lease has
expired lost its replica, and is reported FAILED when read (liveness, not a restart, decides).
"""

from __future__ import annotations

from compox_ray.storage.database import Database

TERMINAL_DEPLOY_STATUSES = ("COMPLETED", "FAILED")
_LOST = "The server process running this deploy stopped before it finished; deploy again."


class DeployJobRecords:
    db: Database

    async def insert_deploy_job(self, job: dict) -> None:
        async with self.db.write() as conn:
            await conn.execute(f"INSERT INTO deploy_jobs ({', '.join(job)}) VALUES ({', '.join('?' * len(job))})",
                               tuple(job.values()))

    async def update_deploy_job(self, deploy_id: str, fields: dict) -> None:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        async with self.db.write() as conn:
            await conn.execute(f"UPDATE deploy_jobs SET {assignments} WHERE deploy_id = ?",
                               (*fields.values(), deploy_id))

    async def read_deploy_job(self, deploy_id: str, now: float) -> dict | None:
        job = await self.db.fetch_one("SELECT * FROM deploy_jobs WHERE deploy_id = ?", (deploy_id,))
        if job and job["status"] not in TERMINAL_DEPLOY_STATUSES and (job["lease_until"] or 0) < now:
            async with self.db.write() as conn:
                await conn.execute("UPDATE deploy_jobs SET status = 'FAILED', time_completed = ?, log = ? "
                                   "WHERE deploy_id = ? AND status NOT IN ('COMPLETED', 'FAILED')",
                                   (now, _LOST, deploy_id))
            job = await self.db.fetch_one("SELECT * FROM deploy_jobs WHERE deploy_id = ?", (deploy_id,))
        return job

    async def _sweep_deploy_jobs(self, conn, now: float) -> list[str]:
        await conn.execute("DELETE FROM deploy_jobs WHERE time_completed IS NOT NULL AND time_completed < ?",
                           (now - self.settings.record_retention_s,))
        return []
