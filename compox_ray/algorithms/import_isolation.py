"""Import a package's code in isolation, without touching sys.path.

Compox packages import their own helper modules by top-level name (``from utils import f``,
``import image_denoising.filters``). Two packages that both ship ``utils``, or two minor versions
of one package, must not share one ``sys.modules["utils"]``. So each unpacked package becomes a
private namespace, ``_compox_pkg_<digest>``, whose ``__path__`` is the package folder, and every
module of it runs with its own ``__import__``: a top-level import of one of the package's own
names is answered from the namespace (``utils`` -> ``_compox_pkg_<digest>.utils``); any other
import goes to the normal machinery. Third-party libraries keep the normal ``__import__``.

Limits: ``importlib.import_module("utils")`` called by package code bypasses the mapping, and
objects of package classes pickle by reference to the namespace module (load it before
unpickling them in another process).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

NAMESPACE_PREFIX = "_compox_pkg_"


def namespace_name(digest: str) -> str:
    return f"{NAMESPACE_PREFIX}{digest[:24]}"


def top_level_names(root: Path) -> frozenset[str]:
    """The module and package names a package folder provides at its root."""
    names = set()
    for entry in Path(root).iterdir():
        if entry.is_file() and entry.suffix == ".py" and entry.stem.isidentifier():
            names.add(entry.stem)
        elif (entry.is_dir() and entry.name.isidentifier() and entry.name != "__pycache__"
              and any(entry.rglob("*.py"))):
            names.add(entry.name)
    names.discard("__init__")
    return frozenset(names)


def _package_import_function(namespace: str, own_names: frozenset[str]):
    real_import = builtins.__import__

    def package_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name.partition(".")[0] in own_names:
            module = real_import(f"{namespace}.{name}", globals, locals, fromlist, 0)
            # "import utils.io" binds "utils": answer the package's utils, not the namespace root.
            return module if fromlist else sys.modules[f"{namespace}.{name.partition('.')[0]}"]
        return real_import(name, globals, locals, fromlist, level)

    return package_import


class _IsolatedSourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader that gives the module the package's own builtins (its ``__import__``)."""

    def __init__(self, fullname: str, path: str, package_builtins: dict):
        super().__init__(fullname, path)
        self._package_builtins = package_builtins

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["__builtins__"] = self._package_builtins
        super().exec_module(module)


class PackageNamespace:
    def __init__(self, name: str, root: Path):
        self.name = name
        self.root = Path(root)
        self.own_names = top_level_names(self.root)
        self.builtins = dict(builtins.__dict__, __import__=_package_import_function(name, self.own_names))
        self.users = 0

    def create_root_module(self) -> ModuleType:
        init = self.root / "__init__.py"
        if init.is_file():
            loader = _IsolatedSourceLoader(self.name, str(init), self.builtins)
            spec = importlib.util.spec_from_file_location(self.name, init, loader=loader,
                                                          submodule_search_locations=[str(self.root)])
        else:
            spec = importlib.machinery.ModuleSpec(self.name, None, is_package=True)
            spec.submodule_search_locations = [str(self.root)]
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.name] = module
        try:
            if spec.loader is not None:
                spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self.name, None)
            raise
        return module

    def import_module(self, relative_name: str) -> ModuleType:
        """``import_module("Runner")`` imports the package's Runner.py."""
        return importlib.import_module(f"{self.name}.{relative_name}")

    def unload(self) -> None:
        for module_name in [name for name in sys.modules if name == self.name or name.startswith(self.name + ".")]:
            sys.modules.pop(module_name, None)


class _PackageFinder(importlib.abc.MetaPathFinder):
    """Serves the modules of registered namespaces, with the isolating loader."""

    def find_spec(self, fullname, path, target=None):
        head, _, rest = fullname.partition(".")
        namespace = _namespaces.get(head)
        if namespace is None or not rest:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _IsolatedSourceLoader(fullname, spec.origin, namespace.builtins)
        return spec


_namespaces: dict[str, PackageNamespace] = {}
_lock = threading.Lock()
_finder = _PackageFinder()


def acquire_namespace(root: Path, digest: str) -> PackageNamespace:
    """The namespace of the package unpacked at ``root`` (its content hash ``digest``), shared by
    every user of the same content in this process until the last one releases it."""
    name = namespace_name(digest)
    with _lock:
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)  # handles only _compox_pkg_* names
        namespace = _namespaces.get(name)
        if namespace is None:
            namespace = PackageNamespace(name, root)
            _namespaces[name] = namespace
            try:
                namespace.create_root_module()
            except BaseException:
                del _namespaces[name]
                raise
        namespace.users += 1
        return namespace


def release_namespace(namespace: PackageNamespace) -> None:
    with _lock:
        namespace.users -= 1
        if namespace.users <= 0 and _namespaces.get(namespace.name) is namespace:
            del _namespaces[namespace.name]
            namespace.unload()
