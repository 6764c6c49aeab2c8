"""The deploy-time check of a package's code, run as a Ray task in a process of its own.

Importing a package runs its code; that never happens in an Api replica. The task unpacks the
package from the blob store into the node's package cache (where a runner on that node will find
it later), imports Runner.py in isolation and checks that it defines a usable ``Runner`` class. It
runs in a fresh worker that exits afterwards (``max_calls=1``): whatever the import did to the
process goes with it. It answers a plain dict, never raises, so the caller can turn a failure into
a 422 that names the problem.
"""

from __future__ import annotations

import inspect
import traceback
from pathlib import Path

import ray

from compox_ray.algorithms.compox_alias import install_compox_alias
from compox_ray.algorithms.import_isolation import acquire_namespace
from compox_ray.algorithms.package_cache import materialise_package
from compox_ray.runners.base_runner import BaseRunner
from compox_ray.settings import Settings
from compox_ray.storage.blobs import open_blob_store


def _where_in_package(error: BaseException, root: Path) -> str:
    """' (utils/io.py, line 3)' for the innermost frame inside the package, else ''."""
    inside = [frame for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename and Path(frame.filename).resolve().is_relative_to(root)]
    if not inside:
        return ""
    frame = inside[-1]
    return f" ({Path(frame.filename).resolve().relative_to(root).as_posix()}, line {frame.lineno})"


def check_runner_class(module) -> str | None:
    """What is wrong with the module's Runner, or None."""
    runner_class = getattr(module, "Runner", None)
    if not isinstance(runner_class, type):
        return "Runner.py defines no class named Runner."
    if not issubclass(runner_class, BaseRunner):
        return ("Runner does not derive from a compox runner class (compox.algorithm_utils BaseRunner, "
                "Image2ImageRunner, ...).")
    if inspect.isabstract(runner_class):
        missing = ", ".join(sorted(runner_class.__abstractmethods__))
        return f"Runner does not implement {missing}."
    return None


@ray.remote(num_cpus=0, max_calls=1, max_retries=0)
def inspect_package(settings: Settings, digest: str, files: list[dict]) -> dict:
    """{"ok": True, "runner_base": name} or {"ok": False, "code": ..., "detail": ...}."""
    root = materialise_package(settings.package_cache_dir, open_blob_store(settings), digest, files).resolve()
    install_compox_alias()
    try:
        module = acquire_namespace(root, digest).import_module("Runner")
    except BaseException as error:  # SystemExit from a package's import is a failure like any other
        where = _where_in_package(error, root)
        return {"ok": False, "code": "algorithm_import_failed",
                "detail": f"Runner.py failed to import: {type(error).__name__}: {error}{where}"}
    problem = check_runner_class(module)
    if problem:
        return {"ok": False, "code": "invalid_algorithm_package", "detail": problem}
    return {"ok": True, "runner_base": module.Runner.__mro__[1].__name__}
