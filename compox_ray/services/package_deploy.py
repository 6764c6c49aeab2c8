"""Deploying packages: from a server-side path, a zip body, the bundled folder; async deploy jobs.

One deploy: stage the package on this node (checked, hashed; no code runs), protect its content
from the sweep, upload each file once by content hash, import the code in a separate Ray task,
and only then register the version in one RecordStore transaction. Any failure before that last
step leaves the registry as it was; uploaded content nobody registers is swept after the grace
period. Content identical to the latest minor skips the upload and the check: redeploying an
unchanged package (the bundled ones at every start, from every Api replica) costs a hash.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import ray
from ray.exceptions import WorkerCrashedError

from compox_ray import ids, timestamps
from compox_ray.algorithms.package_files import (
    PackageLimits,
    StagedPackage,
    remove_staging,
    stage_path,
    stage_zip,
    too_large,
)
from compox_ray.algorithms.package_inspection import inspect_package
from compox_ray.errors import CompoxError
from compox_ray.settings import Settings
from compox_ray.storage.algorithm_records import content_blob_key
from compox_ray.storage.blobs import BlobStore

logger = logging.getLogger(__name__)
UPLOAD_CONCURRENCY = 8
JOB_LEASE_S = 30.0


@dataclass(frozen=True)
class DeployOverrides:
    """Query parameters of the deploy routes; None keeps what the package declares."""

    algorithm_name: str | None = None
    algorithm_major_version: str | None = None
    removable: bool | None = None
    exportable: bool | None = None


class PackageDeployer:
    def __init__(self, settings: Settings, records, blobs: BlobStore):
        self.settings = settings
        self.records = records
        self.blobs = blobs
        self.limits = PackageLimits(settings.max_package_bytes, settings.max_package_files)
        self._jobs: set[asyncio.Task] = set()

    def _staging_dir(self) -> Path:
        return self.settings.spool_dir / "packages" / uuid.uuid4().hex

    # -- one deploy -------------------------------------------------------------------------------
    async def deploy_staged(self, staged: StagedPackage, overrides: DeployOverrides) -> dict:
        metadata, manifest = staged.metadata, staged.metadata.manifest
        name = overrides.algorithm_name or metadata.name
        major = overrides.algorithm_major_version or metadata.major
        package = {"name": name, "major": major, "first_minor": metadata.minor, "digest": staged.digest,
                   "files": [file.as_record() for file in staged.files], "manifest": manifest.model_dump(),
                   "removable": manifest.removable if overrides.removable is None else overrides.removable,
                   "exportable": manifest.exportable if overrides.exportable is None else overrides.exportable}
        if await self.records.latest_package_digest.remote(name, major) != staged.digest:
            shas = [file.sha256 for file in staged.files]
            await self.records.mark_content_pending.remote(shas, timestamps.now())
            await self._upload(staged)
            # Fresh protection for the check and the registration, however long the upload took.
            await self.records.mark_content_pending.remote(shas, timestamps.now())
            await self._check_code(staged)
        result = await self.records.register_algorithm_version.remote(package, timestamps.now())
        if result["created"]:
            await self._upload(staged)  # a blob the sweep took just before it was registered comes back
            logger.info("deployed %s v%s.%s", name, major, result["algorithm_minor_version"])
        return result

    async def _upload(self, staged: StagedPackage) -> None:
        """Every file whose content the store does not hold yet, a few at a time."""
        gate = asyncio.Semaphore(UPLOAD_CONCURRENCY)
        unique = {file.sha256: staged.root / file.path for file in staged.files}

        async def absent(sha256: str) -> bool:
            async with gate:
                return not await self.blobs.exists(content_blob_key(sha256))

        async def upload(sha256: str) -> None:
            async with gate:
                await self.blobs.put_file(content_blob_key(sha256), unique[sha256])

        missing = [sha256 for sha256, is_absent in zip(unique, await asyncio.gather(*map(absent, unique))) if is_absent]
        await asyncio.gather(*map(upload, missing))

    async def _check_code(self, staged: StagedPackage) -> None:
        files = [file.as_record() for file in staged.files]
        reference = inspect_package.remote(self.settings, staged.digest, files)
        try:
            outcome = await asyncio.wait_for(reference, self.settings.package_check_timeout_s)
        except asyncio.TimeoutError:
            ray.cancel(reference, force=True)
            raise CompoxError(422, "algorithm_import_failed", "Runner.py did not finish importing within "
                              f"{self.settings.package_check_timeout_s:g} s.") from None
        except WorkerCrashedError:
            raise CompoxError(422, "algorithm_import_failed", "Importing Runner.py crashed its process.") from None
        if not outcome["ok"]:
            raise CompoxError(422, outcome["code"], outcome["detail"])

    async def _deploy_staged_from(self, stage, source: Path, overrides: DeployOverrides,
                                  remove_source: bool = False) -> dict:
        staging = self._staging_dir()
        try:
            staged = await asyncio.to_thread(stage, source, staging, self.limits)
            return await self.deploy_staged(staged, overrides)
        finally:
            await asyncio.to_thread(remove_staging, staging)
            if remove_source:
                source.unlink(missing_ok=True)

    async def deploy_path(self, path: Path, overrides: DeployOverrides) -> dict:
        # Shielded: a client that hangs up does not stop a deploy halfway (nor leave staging behind).
        return await asyncio.shield(self._deploy_staged_from(stage_path, path, overrides))

    async def deploy_zip_stream(self, chunks: AsyncIterator[bytes], content_length: int | None,
                                overrides: DeployOverrides) -> dict:
        """A package zip sent as the request body, spooled to disk within the size limit."""
        limit = self.limits.max_bytes
        if content_length is not None and content_length > limit:
            raise too_large(limit)
        self.settings.spool_dir.mkdir(parents=True, exist_ok=True)
        spool = self.settings.spool_dir / f"{uuid.uuid4().hex}.zip"
        try:
            size = 0
            with open(spool, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise too_large(limit)
                    await asyncio.to_thread(out.write, chunk)
            if size == 0:
                raise CompoxError(422, "invalid_algorithm_package", "The request body is empty; send the package zip.")
        except BaseException:
            spool.unlink(missing_ok=True)
            raise
        # Once the whole body is here, the deploy finishes even if the client hangs up.
        return await asyncio.shield(self._deploy_staged_from(stage_zip, spool, overrides, remove_source=True))

    # -- server-side paths ------------------------------------------------------------------------
    def confined_path(self, path_text: str) -> Path:
        """The path, which must lie in an allowed directory (checked before it is looked at)."""
        allowed = self.settings.deploy_allowed_dirs
        shown = path_text[:500]
        not_found = CompoxError(400, "deploy_path_not_found", f"Path not found: {shown}", path=shown)
        if "\0" in path_text:  # no file system path holds one (os calls raise ValueError)
            raise not_found
        try:
            candidate = Path(path_text).expanduser()
            if not candidate.is_absolute():
                candidate = allowed[0] / candidate if allowed else candidate
            resolved = candidate.resolve()
        except (OSError, RuntimeError):  # a name too long, a symlink loop (RuntimeError in Python 3.11)
            raise not_found from None
        if not any(resolved == root or root in resolved.parents for root in allowed):
            raise CompoxError(400, "deploy_path_not_allowed", f"{shown} is outside the directories this server "
                              "deploys from (setting deploy_allowed_dirs).", path=shown)
        try:
            exists, is_dir, is_file = resolved.exists(), resolved.is_dir(), resolved.is_file()
        except OSError:
            raise not_found from None
        if not exists:
            raise not_found
        if not (is_dir or (is_file and resolved.suffix.lower() == ".zip")):
            raise CompoxError(400, "invalid_deploy_path_type", "Path must be a directory or a .zip file.",
                              path=shown)
        return resolved

    async def deploy_local(self, path_text: str, overrides: DeployOverrides) -> dict:
        return await self.deploy_path(self.confined_path(path_text), overrides)

    async def deploy_bundled(self) -> list[dict]:
        """Every package folder in ``algorithms_dir``; failures are logged, not raised."""
        folder = self.settings.algorithms_dir
        if folder is None or not folder.is_dir():
            return []
        deployed = []
        for package in sorted(path for path in folder.iterdir() if (path / "pyproject.toml").is_file()):
            try:
                deployed.append(await self.deploy_path(package, DeployOverrides()))
            except Exception:
                logger.exception("the bundled package %s could not be deployed", package.name)
        return deployed

    # -- asynchronous deploy jobs -----------------------------------------------------------------
    async def start_job(self, path_text: str, overrides: DeployOverrides) -> str:
        path = self.confined_path(path_text)  # a bad path is answered now, not in the job's log
        deploy_id, now = ids.new_id(), timestamps.now()
        await self.records.insert_deploy_job.remote({"deploy_id": deploy_id, "status": "PENDING", "path": str(path),
                                                     "time_started": now, "lease_until": now + JOB_LEASE_S})
        job = asyncio.get_running_loop().create_task(self._run_job(deploy_id, path, overrides))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return deploy_id

    async def _renew_job_lease(self, deploy_id: str) -> None:
        while True:
            await asyncio.sleep(JOB_LEASE_S / 3)
            await self.records.update_deploy_job.remote(deploy_id, {"lease_until": timestamps.now() + JOB_LEASE_S})

    async def _run_job(self, deploy_id: str, path: Path, overrides: DeployOverrides) -> None:
        renewal = asyncio.get_running_loop().create_task(self._renew_job_lease(deploy_id))
        try:
            await self.records.update_deploy_job.remote(deploy_id, {"status": "RUNNING"})
            result = await self.deploy_path(path, overrides)
            outcome = "Deployed" if result["created"] else "Unchanged; the latest version is"
            fields = {"status": "COMPLETED", "log": f"{outcome} {result['algorithm_name']} "
                      f"v{result['algorithm_major_version']}.{result['algorithm_minor_version']}."}
            fields |= {name: result[name] for name in ("algorithm_id", "algorithm_name", "algorithm_major_version",
                                                       "algorithm_minor_version")}
        except CompoxError as error:
            fields = {"status": "FAILED", "log": f"{error.code}: {error.detail}"}
        except Exception as error:
            logger.exception("deploy job %s failed", deploy_id)
            fields = {"status": "FAILED", "log": f"internal_server_error: {type(error).__name__}: {error}"}
        finally:
            renewal.cancel()
        await self.records.update_deploy_job.remote(deploy_id, fields | {"time_completed": timestamps.now()})

    async def read_job(self, deploy_id: str) -> dict:
        job = await self.records.read_deploy_job.remote(deploy_id, timestamps.now()) if ids.is_valid_id(deploy_id) \
            else None
        if job is None:
            raise CompoxError(404, "deploy_record_not_found", f"Deploy record {deploy_id[:64]!r} was not found.")
        return job
