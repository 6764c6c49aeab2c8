"""The algorithm registry: list and filter, read, export, delete; deploys go to PackageDeployer.

The bundled packages are deployed once per replica start, in the background; registry reads wait
for that (at most BUNDLED_WAIT_S), so a client never sees the registry without them.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from compox_ray import ids, timestamps
from compox_ray.algorithms.package_cache import fetch_blob
from compox_ray.algorithms.package_zip import write_package_zip
from compox_ray.algorithms.wire_models import AlgorithmRegisteredResponse, registered_response
from compox_ray.errors import CompoxError, not_found
from compox_ray.services.package_deploy import DeployOverrides, PackageDeployer
from compox_ray.settings import Settings
from compox_ray.storage.algorithm_records import content_blob_key
from compox_ray.storage.blobs import BlobStore

logger = logging.getLogger(__name__)
BUNDLED_WAIT_S = 120.0


@dataclass(frozen=True)
class ExportedPackage:
    filename: str
    path: Path  # a temporary file: the caller deletes it once sent
    size: int


def _normalised(values: list[str] | None) -> set[str]:
    return {value.strip().lower() for value in values or [] if value and value.strip()}


def matches_filters(described: dict, positive_tags: list[str] | None, negative_tags: list[str] | None,
                    algorithm_type: str | None, supported_devices: list[str] | None) -> bool:
    """All positive tags, none of the negative ones, the type, any of the devices (any letter case)."""
    manifest = described["manifest"]
    tags = _normalised(manifest["tags"])
    devices = _normalised(manifest["supported_devices"])
    wanted_devices = _normalised(supported_devices)
    return (_normalised(positive_tags) <= tags and not (_normalised(negative_tags) & tags)
            and (not algorithm_type or manifest["algorithm_type"].lower() == algorithm_type.strip().lower())
            and (not wanted_devices or bool(wanted_devices & devices)))


class AlgorithmService:
    def __init__(self, settings: Settings, records, blobs: BlobStore):
        self.settings = settings
        self.records = records
        self.blobs = blobs
        self.deployer = PackageDeployer(settings, records, blobs)
        self._bundled: asyncio.Task | None = None
        try:  # built in the Api replica's constructor, on its event loop: start right away
            self.start_bundled_deploy()
        except RuntimeError:
            pass  # no running loop (a script or test): the first registry read starts it

    # -- bundled packages -------------------------------------------------------------------------
    def start_bundled_deploy(self) -> asyncio.Task:
        if self._bundled is None:
            self._bundled = asyncio.get_running_loop().create_task(self.deployer.deploy_bundled())
        return self._bundled

    async def bundled_ready(self) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(self.start_bundled_deploy()), BUNDLED_WAIT_S)
        except asyncio.TimeoutError:
            logger.warning("the bundled packages are still deploying after %.0f s", BUNDLED_WAIT_S)

    # -- registry ---------------------------------------------------------------------------------
    async def list(self, positive_tags: list[str] | None = None, negative_tags: list[str] | None = None,
                   algorithm_type: str | None = None, supported_devices: list[str] | None = None,
                   ) -> list[AlgorithmRegisteredResponse]:
        await self.bundled_ready()
        return [registered_response(described) for described in await self.records.list_algorithms.remote()
                if matches_filters(described, positive_tags, negative_tags, algorithm_type, supported_devices)]

    async def find(self, name: str, major: str) -> dict:
        await self.bundled_ready()
        described = await self.records.find_algorithm.remote(name, str(major).strip())
        if described is None:
            raise not_found("algorithm_not_found", f"Algorithm {name[:128]!r} with major version {major[:16]!r} "
                            "was not found.", algorithm_name=name[:128], algorithm_major_version=major[:16])
        return described

    async def get(self, name: str, major: str) -> AlgorithmRegisteredResponse:
        return registered_response(await self.find(name, major))

    async def require_version(self, algorithm_id: str, minor: str | None) -> dict:
        """One version's record (RecordStore.get_algorithm_version); 404 algorithm_not_found."""
        known_id = ids.is_valid_id(algorithm_id)
        version = await self.records.get_algorithm_version.remote(algorithm_id, minor) if known_id else None
        if version is None:
            if minor is not None and known_id and await self.records.get_algorithm.remote(algorithm_id):
                raise not_found("algorithm_not_found", f"Algorithm {algorithm_id} has no minor version {minor!r}.",
                                algorithm_id=algorithm_id, algorithm_minor_version=minor)
            raise not_found("algorithm_not_found", f"Algorithm {algorithm_id[:64]!r} was not found.",
                            algorithm_id=algorithm_id[:64])
        return version

    async def delete(self, algorithm_id: str, minor: str | None) -> str:
        outcome = (await self.records.delete_algorithm.remote(algorithm_id, minor, timestamps.now())
                   if ids.is_valid_id(algorithm_id) else None)
        if outcome is None:
            raise not_found("algorithm_not_found", f"Algorithm {algorithm_id[:64]!r} was not found.",
                            algorithm_id=algorithm_id[:64])
        if minor is None:
            return "Algorithm removed"
        return f"Algorithm minor version {minor} removed"

    # -- export -----------------------------------------------------------------------------------
    async def _checkpoint_replacements(self, checkpoint_id: str, version: dict) -> dict[str, str]:
        """{path: sha256} of the checkpoint's assets, checked against the version's files."""
        record = await self.records.get_checkpoint.remote(checkpoint_id) if ids.is_valid_id(checkpoint_id) else None
        if record is None:
            raise not_found("checkpoint_not_found", f"Checkpoint {checkpoint_id[:64]!r} was not found.",
                            checkpoint_id=checkpoint_id[:64])
        if record["parent_algorithm_id"] != version["algorithm_id"]:
            raise CompoxError(422, "checkpoint_algorithm_mismatch", f"Checkpoint {checkpoint_id} belongs to algorithm "
                              f"{record['parent_algorithm_id']}, not {version['algorithm_id']}.")
        paths = {file["path"] for file in version["files"]}
        unknown = sorted(set(record["assets"]) - paths)
        if unknown:
            raise CompoxError(400, "invalid_checkpoint", f"Checkpoint {checkpoint_id} replaces {unknown}, which minor "
                              f"version {version['algorithm_minor_version']} does not have.",
                              checkpoint_id=checkpoint_id)
        return dict(record["assets"])

    def _write_export(self, version: dict, replacements: dict[str, str], target: Path) -> None:
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            entries = []
            for file in version["files"]:
                sha256 = replacements.get(file["path"], file["sha256"])
                key = content_blob_key(sha256)
                local = self.blobs.local_path(key)
                if local is None:  # an object store: fetch it next to the zip first
                    local = Path(scratch) / sha256
                    if not local.exists():
                        fetch_blob(self.blobs, key, local)
                entries.append((file["path"], local))
            write_package_zip(entries, target)

    async def export(self, name: str, major: str, minor: str | None, checkpoint_id: str | None) -> ExportedPackage:
        """The version as a zip that redeploys as is (the checkpoint's assets in place, if one is given)."""
        described = await self.find(name, major)
        if not described["exportable"]:
            raise CompoxError(403, "algorithm_not_exportable", "Algorithm is not exportable.",
                              algorithm_name=described["algorithm_name"],
                              algorithm_major_version=described["algorithm_major_version"])
        version = await self.records.get_algorithm_version.remote(described["algorithm_id"], minor)
        if version is None:
            raise not_found("minor_version_not_found", f"Algorithm {described['algorithm_name']} "
                            f"v{described['algorithm_major_version']} has no minor version {minor!r}.",
                            algorithm_minor_version=minor)
        replacements = await self._checkpoint_replacements(checkpoint_id, version) if checkpoint_id else {}
        export_dir = self.settings.spool_dir / "exports"
        export_dir.mkdir(parents=True, exist_ok=True)
        target = export_dir / f"{uuid.uuid4().hex}.zip"
        try:
            await asyncio.to_thread(self._write_export, version, replacements, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        filename = f"{described['algorithm_name']}_v{described['algorithm_major_version']}.zip"
        return ExportedPackage(filename=filename, path=target, size=target.stat().st_size)

    # -- deploys ----------------------------------------------------------------------------------
    async def deploy_local(self, path: str, overrides: DeployOverrides) -> dict:
        return await self.deployer.deploy_local(path, overrides)

    async def deploy_zip(self, chunks, content_length: int | None, overrides: DeployOverrides) -> dict:
        return await self.deployer.deploy_zip_stream(chunks, content_length, overrides)

    async def start_deploy_job(self, path: str, overrides: DeployOverrides) -> str:
        return await self.deployer.start_job(path, overrides)

    async def read_deploy_job(self, deploy_id: str) -> dict:
        return await self.deployer.read_job(deploy_id)
