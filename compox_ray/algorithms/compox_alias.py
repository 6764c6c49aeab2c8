"""``import compox.algorithm_utils.<X>`` for packages written against Compox, when compox is absent.

A meta-path finder placed last on ``sys.meta_path``: every other finder (a real, installed compox
included) is asked first, so a real compox is never shadowed, and this one only serves ``compox``
modules while the ``compox`` in use is its own alias package. The alias modules carry the public
names of the matching compox_ray modules (and look anything else up there), so
``from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner`` yields
``compox_ray.runners.Image2ImageRunner`` itself.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading
from types import ModuleType

_ALIAS_MARK = "__compox_ray_alias__"
ALIAS_PACKAGES = ("compox", "compox.algorithm_utils", "compox.training")
ALIAS_MODULES = {
    "compox.algorithm_utils.BaseRunner": "compox_ray.runners.base_runner",
    "compox.algorithm_utils.Image2ImageRunner": "compox_ray.runners.image_runners",
    "compox.algorithm_utils.Image2SegmentationRunner": "compox_ray.runners.image_runners",
    "compox.algorithm_utils.Image2MultiRegionSegmentationRunner": "compox_ray.runners.image_runners",
    "compox.algorithm_utils.Segmentation2SegmentationRunner": "compox_ray.runners.image_runners",
    "compox.algorithm_utils.Image2AlignmentRunner": "compox_ray.runners.image_runners",
    "compox.algorithm_utils.Image2EmbeddingRunner": "compox_ray.runners.image_runners",
    "compox.algorithm_utils.io_schemas": "compox_ray.runners.io_schemas",
    "compox.algorithm_utils.AlgorithmConfigSchema": "compox_ray.algorithms.manifest",
    "compox.training.TrainingDataset": "compox_ray.runners.training_dataset",
    "compox.training.TrainingSample": "compox_ray.runners.training_dataset",
    "compox.training.TempStore": "compox_ray.runners.temp_store",
}


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        setattr(module, _ALIAS_MARK, True)
        target_name = ALIAS_MODULES.get(module.__name__)
        if target_name is None:
            return  # a package: its submodules are aliases too
        target = importlib.import_module(target_name)
        module.__dict__.update({name: value for name, value in vars(target).items() if not name.startswith("_")})
        module.__getattr__ = lambda name: getattr(target, name)


class CompoxAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "compox" and not getattr(sys.modules.get("compox"), _ALIAS_MARK, False):
            return None  # a real compox is in use: never mix it with the alias
        if fullname in ALIAS_PACKAGES:
            return importlib.util.spec_from_loader(fullname, _AliasLoader(), is_package=True)
        if fullname in ALIAS_MODULES:
            return importlib.util.spec_from_loader(fullname, _AliasLoader())
        return None


_finder = CompoxAliasFinder()
_lock = threading.Lock()


def install_compox_alias() -> None:
    """Idempotent; called before any package code is imported."""
    with _lock:
        if _finder not in sys.meta_path:
            sys.meta_path.append(_finder)
