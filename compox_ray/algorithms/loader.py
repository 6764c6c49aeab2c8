"""Load one algorithm version into this process: the warm Runner that executions and trainings use.

``load_algorithm`` is what a Runner replica or a training task calls (blocking; run it in a
thread): it reads the version's record, unpacks the package into the node's package cache (once
per content hash), imports it in its own namespace (algorithms/import_isolation.py) with the compox
alias installed, builds ``Runner()``, calls ``initialize(device)`` and ``load_assets()`` once, and
answers a LoadedAlgorithm. ``load_algorithm_from_folder`` does the same for a package folder on
disk, without a server: the way to debug an algorithm in a notebook together with LocalRunContext.
"""

from __future__ import annotations

import gc
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import ray

from compox_ray import ids
from compox_ray.algorithms.benchmark_outputs import BenchmarkRefused, check_benchmark_data
from compox_ray.algorithms.compox_alias import install_compox_alias
from compox_ray.algorithms.import_isolation import PackageNamespace, acquire_namespace, release_namespace
from compox_ray.algorithms.manifest import AlgorithmConfigSchema, read_package_metadata
from compox_ray.algorithms.package_cache import materialise_checkpoint_assets, materialise_package
from compox_ray.algorithms.package_files import PackageFile, iter_folder_files, package_digest
from compox_ray.algorithms.parameters import resolve_parameters
from compox_ray.errors import CompoxError
from compox_ray.runners.assets import PackageAssets, is_asset_path
from compox_ray.runners.base_runner import BaseRunner, run_attributes_scope
from compox_ray.runners.context import RunContext, use_context
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.algorithm_records import content_blob_key
from compox_ray.storage.blobs import open_blob_store
from compox_ray.storage.records_actor import RecordStore


class AlgorithmLoadError(RuntimeError):
    """The package's code could not be imported or its Runner could not be built."""


@dataclass
class LoadedAlgorithm:
    algorithm_id: str
    algorithm_name: str
    major: str
    minor: str
    checkpoint_id: str | None
    manifest: AlgorithmConfigSchema
    device: str
    runner: BaseRunner
    asset_paths: list[str]
    package_root: Path
    _namespace: PackageNamespace | None = field(default=None, repr=False)

    def execute(self, context: RunContext, input_dataset_ids: list[str]) -> list[str]:
        """preprocess -> inference -> postprocess with ``context.parameters``; the output file ids."""
        with use_context(context), run_attributes_scope(self.runner):
            return self.runner.run({"input_dataset_ids": list(input_dataset_ids)}, dict(context.parameters))

    def train(self, context: RunContext, training_data: list[str]) -> None:
        """The Runner's ``train`` on the sample ids ``training_data``."""
        with use_context(context), run_attributes_scope(self.runner):
            self.runner.run_training(list(training_data), dict(context.parameters))

    def benchmark(self, context: RunContext) -> dict:
        """The Runner's ``benchmark`` with ``context.parameters``, checked against the package's
        ``benchmark_outputs``; BenchmarkRefused if it has none or its report does not match."""
        if type(self.runner).benchmark is BaseRunner.benchmark:
            raise BenchmarkRefused(f"{self.algorithm_name} v{self.major}.{self.minor} has no benchmark: its Runner "
                                   "does not implement benchmark().")
        with use_context(context), run_attributes_scope(self.runner):
            context.report_log("Starting benchmark.")
            data = self.runner.benchmark(dict(context.parameters))
        return check_benchmark_data(self.manifest.benchmark_outputs, data)

    def with_defaults(self, parameters: dict | None = None, training: bool = False) -> dict:
        """``parameters`` checked against the package's schema, defaults filled in (as the server does)."""
        declared = self.manifest.training_parameters if training else self.manifest.additional_parameters
        resolved, _ = resolve_parameters([spec.model_dump() for spec in declared], parameters or {})
        return resolved

    def close(self) -> None:
        """Drop the runner and, when no other loaded version shares it, the package's modules."""
        self.runner = None
        if self._namespace is not None:
            release_namespace(self._namespace)
            self._namespace = None
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()


def _build_runner(namespace: PackageNamespace, device: str, assets: PackageAssets, label: str) -> BaseRunner:
    try:
        module = namespace.import_module("Runner")
    except Exception as error:
        raise AlgorithmLoadError(f"Runner.py of {label} failed to import: {type(error).__name__}: {error}") from error
    runner_class = getattr(module, "Runner", None)
    if not isinstance(runner_class, type):
        raise AlgorithmLoadError(f"Runner.py of {label} defines no class named Runner.")
    if not issubclass(runner_class, BaseRunner):
        raise AlgorithmLoadError(
            f"Runner of {label} does not derive from compox_ray's BaseRunner. If a real compox is installed in "
            "this environment, its compox.algorithm_utils is used instead of compox_ray's: uninstall it here.")
    runner = runner_class()
    runner.initialize(device)
    runner._load_assets(assets)
    return runner


def open_package(root: Path, digest: str, *, device: str, assets: PackageAssets, identity: dict,
                 manifest: AlgorithmConfigSchema) -> LoadedAlgorithm:
    """Import the package unpacked at ``root`` and build its warm Runner."""
    install_compox_alias()
    label = f"{identity['algorithm_name']} v{identity['major']}.{identity['minor']}"
    namespace = acquire_namespace(root, digest)
    try:
        runner = _build_runner(namespace, device, assets, label)
    except BaseException:
        release_namespace(namespace)
        raise
    return LoadedAlgorithm(**identity, manifest=manifest, device=device, runner=runner,
                           asset_paths=assets.paths(), package_root=Path(root), _namespace=namespace)


def _records(settings: Settings):
    return singleton(RecordStore, settings, "records")


def checkpoint_assets(settings: Settings, checkpoint_id: str, algorithm_id: str | None = None) -> dict[str, str]:
    """A checkpoint's assets as {relative path: blob key}; CompoxError 404 checkpoint_not_found, or
    422 checkpoint_algorithm_mismatch when it was trained from another algorithm than ``algorithm_id``."""
    record = None
    if ids.is_valid_id(checkpoint_id):
        record = ray.get(_records(settings).get_checkpoint.remote(checkpoint_id))
    if record is None:
        raise CompoxError(404, "checkpoint_not_found", f"Checkpoint {checkpoint_id[:64]!r} was not found.",
                          checkpoint_id=checkpoint_id)
    if algorithm_id is not None and record["parent_algorithm_id"] != algorithm_id:
        raise CompoxError(422, "checkpoint_algorithm_mismatch", f"Checkpoint {checkpoint_id} belongs to algorithm "
                          f"{record['parent_algorithm_id']}, not {algorithm_id}.")
    return {path: content_blob_key(sha256) for path, sha256 in record["assets"].items()}


def load_algorithm(settings: Settings, algorithm_id: str, minor: str | None, checkpoint_id: str | None,
                   device: str) -> LoadedAlgorithm:
    """The deployed version ``minor`` (None: the latest) of ``algorithm_id``, with the checkpoint's
    assets in place of the package's when ``checkpoint_id`` is given, loaded for ``device``."""
    version = ray.get(_records(settings).get_algorithm_version.remote(algorithm_id, minor))
    if version is None:
        raise CompoxError(404, "algorithm_not_found", f"Algorithm {algorithm_id} has no minor version {minor!r}."
                          if minor is not None else f"Algorithm {algorithm_id} was not found.")
    blobs = open_blob_store(settings)
    root = materialise_package(settings.package_cache_dir, blobs, version["package_digest"], version["files"])
    replacements = {}
    if checkpoint_id is not None:
        keys = checkpoint_assets(settings, checkpoint_id, algorithm_id)
        replacements = materialise_checkpoint_assets(settings.package_cache_dir, blobs, checkpoint_id, keys)
    try:
        assets = PackageAssets(root, [file["path"] for file in version["files"] if is_asset_path(file["path"])],
                               replacements)
    except ValueError as error:
        raise CompoxError(400, "invalid_checkpoint", f"Checkpoint {checkpoint_id} does not fit this version: {error}",
                          checkpoint_id=checkpoint_id) from None
    identity = {"algorithm_id": algorithm_id, "algorithm_name": version["algorithm_name"],
                "major": version["algorithm_major_version"], "minor": version["algorithm_minor_version"],
                "checkpoint_id": checkpoint_id}
    return open_package(root, version["package_digest"], device=device, assets=assets, identity=identity,
                        manifest=AlgorithmConfigSchema.model_validate(version["manifest"]))


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 2**20):
            digest.update(chunk)
    return digest.hexdigest()


def load_algorithm_from_folder(folder: Path | str, device: str = "cpu",
                               replaced_assets: dict[str, Path] | None = None) -> LoadedAlgorithm:
    """A package folder loaded as the server would load it, for local runs with LocalRunContext;
    ``replaced_assets`` ({asset path: local file}) stands in for a checkpoint's assets."""
    folder = Path(folder).resolve()
    metadata = read_package_metadata(folder)
    files = [PackageFile(relative, _hash_file(path), path.stat().st_size)
             for relative, path in iter_folder_files(folder)]
    if "Runner.py" not in {file.path for file in files}:
        raise CompoxError(422, "invalid_algorithm_package", f"{folder} has no Runner.py.")
    assets = PackageAssets(folder, [file.path for file in files if is_asset_path(file.path)], replaced_assets)
    identity = {"algorithm_id": "local", "algorithm_name": metadata.name, "major": metadata.major,
                "minor": str(metadata.minor), "checkpoint_id": None}
    return open_package(folder, package_digest(files), device=device, assets=assets, identity=identity,
                        manifest=metadata.manifest)
