"""Records of deployed algorithms, their minor versions and package contents (part of the
RecordStore actor; asynchronous deploy jobs are in deploy_job_records.py).

Versioning happens inside one write transaction, so concurrent deploys of one name + major (several
Api replicas deploying the bundled packages at start-up, say) get distinct minors, and identical
content never adds a second one. Content blobs (``content/<sha256>``) are shared by every package
and checkpoint that holds the same bytes; a package's blob goes only through the sweep, once
nothing references it and the grace period has passed (a deploy in progress has uploaded, but not
yet registered, its content).
"""

from __future__ import annotations

import json
import re

from compox_ray import ids, timestamps
from compox_ray.errors import CompoxError
from compox_ray.storage.database import Database, fetch_all
from compox_ray.storage.deploy_job_records import DeployJobRecords

# Unique content per algorithm over all its minors, code (*.py) apart from assets.
_FOOTPRINT_SQL = """
    SELECT algorithm_id, is_module, COUNT(*) AS count, SUM(size) AS bytes FROM (
        SELECT DISTINCT v.algorithm_id, f.content_sha256, f.size, f.path LIKE '%.py' AS is_module
        FROM algorithm_versions v JOIN package_files f ON f.package_digest = v.package_digest
        WHERE v.algorithm_id IN ({marks}))
    GROUP BY algorithm_id, is_module"""
# Checkpoints (migration 0004) reference content blobs too: checkpoints.assets = {path: sha256}.
_UNREFERENCED_PENDING_SQL = """
    SELECT content_sha256 FROM package_content_pending p WHERE since < ?
    AND NOT EXISTS (SELECT 1 FROM package_files f WHERE f.content_sha256 = p.content_sha256)
    AND NOT EXISTS (SELECT 1 FROM checkpoints c, json_each(c.assets) a WHERE a.value = p.content_sha256)"""
_MARK_PENDING_SQL = """
    INSERT INTO package_content_pending (content_sha256, since) VALUES (?, ?)
    ON CONFLICT (content_sha256) DO UPDATE SET since = MAX(since, excluded.since)"""


def content_blob_key(sha256: str) -> str:
    return f"content/{sha256}"


_MINOR = re.compile(r"[0-9]{1,18}")


def _marks(values) -> str:
    return ",".join("?" * len(values))


def _storage_metrics(algorithm_id: str, latest: dict, footprint: dict, checkpoint_count: int) -> dict:
    """Compox's storage_metrics keys, from unique content over every minor version."""
    code = footprint.get((algorithm_id, True), {"count": 0, "bytes": 0})
    assets = footprint.get((algorithm_id, False), {"count": 0, "bytes": 0})
    return {"logical_size_bytes": (code["bytes"] or 0) + (assets["bytes"] or 0),
            "module_bytes": code["bytes"] or 0, "module_count": code["count"],
            "asset_bytes": assets["bytes"] or 0, "asset_count": assets["count"],
            "checkpoint_count": checkpoint_count, "package_bytes": latest["bytes"] or 0,
            "package_files": latest["files"], "last_recomputed_at": timestamps.iso(timestamps.now())}


class AlgorithmRecords(DeployJobRecords):
    db: Database

    # -- deploy -----------------------------------------------------------------------------------
    async def register_algorithm_version(self, package: dict, now: float) -> dict:
        """Add ``package`` as the next minor of its name + major, unless the latest minor has the
        same content. ``package``: name, major, first_minor, digest, files [{path, sha256, size}],
        manifest, removable, exportable (the algorithm's flags after this deploy).
        Answers the deploy response fields and ``created`` (False: the existing latest minor)."""
        name, major, digest = package["name"], package["major"], package["digest"]
        async with self.db.write() as conn:
            rows = await fetch_all(conn, "SELECT * FROM algorithms WHERE name_key = ? AND major = ?",
                                   (name.lower(), major))
            algorithm = rows[0] if rows else {"algorithm_id": ids.new_id(), "name": name, "major": major}
            algorithm_id = algorithm["algorithm_id"]
            if not rows:
                await conn.execute("INSERT INTO algorithms (algorithm_id, name, name_key, major, removable, "
                                   "exportable, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                   (algorithm_id, name, name.lower(), major, package["removable"],
                                    package["exportable"], now))
            latest = await fetch_all(conn, "SELECT minor, package_digest FROM algorithm_versions "
                                           "WHERE algorithm_id = ? ORDER BY minor DESC LIMIT 1", (algorithm_id,))
            created = not latest or latest[0]["package_digest"] != digest
            if created:
                minor = latest[0]["minor"] + 1 if latest else int(package["first_minor"])
                await conn.executemany("INSERT OR IGNORE INTO package_files (package_digest, path, content_sha256, "
                                       "size) VALUES (?, ?, ?, ?)",
                                       [(digest, file["path"], file["sha256"], file["size"])
                                        for file in package["files"]])
                await conn.execute("INSERT INTO algorithm_versions (algorithm_id, minor, package_digest, manifest, "
                                   "deployed_at) VALUES (?, ?, ?, ?, ?)",
                                   (algorithm_id, minor, digest, json.dumps(package["manifest"]), now))
            else:
                minor = latest[0]["minor"]
            await conn.execute("UPDATE algorithms SET removable = ?, exportable = ? WHERE algorithm_id = ?",
                               (package["removable"], package["exportable"], algorithm_id))
            shas = sorted({file["sha256"] for file in package["files"]})
            if shas:
                await conn.execute(f"DELETE FROM package_content_pending WHERE content_sha256 IN ({_marks(shas)})",
                                   tuple(shas))
        return {"algorithm_id": algorithm_id, "algorithm_name": algorithm["name"], "algorithm_major_version": major,
                "algorithm_minor_version": str(minor), "created": created}

    async def mark_content_pending(self, shas: list[str], now: float) -> None:
        """Content a deploy is about to upload: protected from the sweep for the grace period."""
        if shas:
            async with self.db.write() as conn:
                await conn.executemany(_MARK_PENDING_SQL, [(sha, now) for sha in sorted(set(shas))])

    async def latest_package_digest(self, name: str, major: str) -> str | None:
        row = await self.db.fetch_one(
            "SELECT v.package_digest FROM algorithms a JOIN algorithm_versions v ON v.algorithm_id = a.algorithm_id "
            "WHERE a.name_key = ? AND a.major = ? ORDER BY v.minor DESC LIMIT 1", (name.lower(), major))
        return row["package_digest"] if row else None

    # -- reads ------------------------------------------------------------------------------------
    async def _describe_algorithms(self, where: str = "", params: tuple = ()) -> list[dict]:
        algorithms = await self.db.fetch_all(
            f"SELECT * FROM algorithms {where} ORDER BY name_key, CAST(major AS INTEGER)", params)
        if not algorithms:
            return []
        chosen = tuple(row["algorithm_id"] for row in algorithms)
        versions = await self.db.fetch_all(
            f"SELECT * FROM algorithm_versions WHERE algorithm_id IN ({_marks(chosen)}) ORDER BY minor", chosen)
        digests = tuple({version["package_digest"] for version in versions})
        size_rows = await self.db.fetch_all(
            f"SELECT package_digest, COUNT(*) AS files, SUM(size) AS bytes FROM package_files "
            f"WHERE package_digest IN ({_marks(digests)}) GROUP BY package_digest", digests)
        sizes = {row["package_digest"]: row for row in size_rows}
        footprint_rows = await self.db.fetch_all(_FOOTPRINT_SQL.format(marks=_marks(chosen)), chosen)
        footprint = {(row["algorithm_id"], bool(row["is_module"])): row for row in footprint_rows}
        checkpoint_rows = await self.db.fetch_all(
            f"SELECT parent_algorithm_id, COUNT(*) AS count FROM checkpoints "
            f"WHERE parent_algorithm_id IN ({_marks(chosen)}) GROUP BY parent_algorithm_id", chosen)
        checkpoints = {row["parent_algorithm_id"]: row["count"] for row in checkpoint_rows}
        by_algorithm: dict[str, list[dict]] = {}
        for version in versions:
            by_algorithm.setdefault(version["algorithm_id"], []).append(version)
        described = []
        for row in algorithms:
            own = by_algorithm.get(row["algorithm_id"])
            if not own:
                continue  # its deploy's transaction has not committed the first version yet
            latest = own[-1]
            size = sizes.get(latest["package_digest"], {"files": 0, "bytes": 0})
            described.append({
                "algorithm_id": row["algorithm_id"], "algorithm_name": row["name"],
                "algorithm_major_version": row["major"], "removable": bool(row["removable"]),
                "exportable": bool(row["exportable"]), "created_at": row["created_at"],
                "minor_versions": [str(version["minor"]) for version in own],
                "latest_minor_version": str(latest["minor"]), "package_digest": latest["package_digest"],
                "manifest": json.loads(latest["manifest"]),
                "storage_metrics": _storage_metrics(row["algorithm_id"], size, footprint,
                                                    checkpoints.get(row["algorithm_id"], 0)),
            })
        return described

    async def list_algorithms(self) -> list[dict]:
        return await self._describe_algorithms()

    async def get_algorithm(self, algorithm_id: str) -> dict | None:
        """The algorithm with its minor versions and the manifest of the latest one; None if unknown."""
        found = await self._describe_algorithms("WHERE algorithm_id = ?", (algorithm_id,))
        return found[0] if found else None

    async def find_algorithm(self, name: str, major: str) -> dict | None:
        """By name (any letter case) and major version."""
        found = await self._describe_algorithms("WHERE name_key = ? AND major = ?", (name.lower(), str(major)))
        return found[0] if found else None

    async def get_algorithm_version(self, algorithm_id: str, minor: str | None) -> dict | None:
        """One minor version (None: the latest) with its manifest and files; None if unknown."""
        algorithm = await self.db.fetch_one("SELECT * FROM algorithms WHERE algorithm_id = ?", (algorithm_id,))
        # ASCII digits that fit SQLite's integer (str.isdigit also takes "²", which int() refuses).
        if algorithm is None or (minor is not None and not _MINOR.fullmatch(str(minor).strip())):
            return None
        if minor is None:
            version = await self.db.fetch_one("SELECT * FROM algorithm_versions WHERE algorithm_id = ? "
                                              "ORDER BY minor DESC LIMIT 1", (algorithm_id,))
        else:
            version = await self.db.fetch_one("SELECT * FROM algorithm_versions WHERE algorithm_id = ? AND minor = ?",
                                              (algorithm_id, int(minor)))
        if version is None:
            return None
        files = await self.db.fetch_all("SELECT path, content_sha256 AS sha256, size FROM package_files "
                                        "WHERE package_digest = ? ORDER BY path", (version["package_digest"],))
        minor_text = str(version["minor"])
        return {"algorithm_id": algorithm_id, "algorithm_name": algorithm["name"],
                "algorithm_major_version": algorithm["major"], "algorithm_minor_version": minor_text,
                "minor": minor_text, "manifest": json.loads(version["manifest"]),
                "package_digest": version["package_digest"], "files": files, "deployed_at": version["deployed_at"],
                "removable": bool(algorithm["removable"]), "exportable": bool(algorithm["exportable"])}

    # -- delete -----------------------------------------------------------------------------------
    async def delete_algorithm(self, algorithm_id: str, minor: str | None, now: float) -> dict | None:
        """Remove one minor (or all); the last one takes the algorithm with it. None if unknown.
        Content no package references any more becomes pending: the sweep deletes it later."""
        async with self.db.write() as conn:
            rows = await fetch_all(conn, "SELECT * FROM algorithms WHERE algorithm_id = ?", (algorithm_id,))
            if not rows:
                return None
            algorithm = rows[0]
            label = f"{algorithm['name']} v{algorithm['major']}"
            if not algorithm["removable"]:
                raise CompoxError(400, "algorithm_not_removable", f"Algorithm {label} is not removable.",
                                  algorithm_id=algorithm_id)
            versions = await fetch_all(conn, "SELECT minor, package_digest FROM algorithm_versions "
                                             "WHERE algorithm_id = ?", (algorithm_id,))
            doomed = versions if minor is None else [v for v in versions if str(v["minor"]) == str(minor).strip()]
            if not doomed:
                raise CompoxError(404, "algorithm_not_found", f"Algorithm {label} has no minor version {minor!r}.",
                                  algorithm_id=algorithm_id, algorithm_minor_version=minor)
            await conn.executemany("DELETE FROM algorithm_versions WHERE algorithm_id = ? AND minor = ?",
                                   [(algorithm_id, version["minor"]) for version in doomed])
            removed_all = len(doomed) == len(versions)
            if removed_all:
                await conn.execute("DELETE FROM algorithms WHERE algorithm_id = ?", (algorithm_id,))
            await self._release_packages_in(conn, {version["package_digest"] for version in doomed}, now)
        return {"algorithm_removed": removed_all,
                "removed_minor_versions": sorted(str(version["minor"]) for version in doomed)}

    @staticmethod
    async def _release_packages_in(conn, digests: set[str], now: float) -> None:
        """Packages no version uses any more lose their file lists; their content becomes pending."""
        for digest in digests:
            if await fetch_all(conn, "SELECT 1 FROM algorithm_versions WHERE package_digest = ? LIMIT 1", (digest,)):
                continue
            rows = await fetch_all(conn, "SELECT content_sha256 FROM package_files WHERE package_digest = ?",
                                   (digest,))
            await conn.execute("DELETE FROM package_files WHERE package_digest = ?", (digest,))
            await conn.executemany(_MARK_PENDING_SQL, [(sha, now) for sha in {row["content_sha256"] for row in rows}])

    async def algorithm_content_referenced(self, conn, sha256: str) -> bool:
        """Inside a write transaction: does a package use this content, or may a deploy in progress
        be about to? (The checkpoint records ask before deleting a checkpoint's blobs.)"""
        cutoff = timestamps.now() - self.settings.package_content_grace_s
        rows = await fetch_all(conn, "SELECT 1 FROM package_files WHERE content_sha256 = ? UNION ALL "
                                     "SELECT 1 FROM package_content_pending WHERE content_sha256 = ? AND since >= ? "
                                     "LIMIT 1", (sha256, sha256, cutoff))
        return bool(rows)

    async def _sweep_package_content(self, conn, now: float) -> list[str]:
        """Blobs of content that nothing has referenced for longer than the grace period."""
        cutoff = now - self.settings.package_content_grace_s
        rows = await fetch_all(conn, _UNREFERENCED_PENDING_SQL, (cutoff,))
        await conn.execute("DELETE FROM package_content_pending WHERE since < ?", (cutoff,))
        return [content_blob_key(row["content_sha256"]) for row in rows]
