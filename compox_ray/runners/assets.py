"""The assets a runner reads with ``fetch_asset``: the package's non-Python files, by relative path.

Assets belong to the loaded algorithm (its package, or a checkpoint that replaces some of its
files), not to a run: ``load_assets`` reads them once, before any run exists. A checkpoint can only
replace files the package already has, so its keys are checked against ``paths()``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath


def normalise_asset_path(path: str) -> str:
    """``files/w.pt``, ``./files/w.pt`` and ``files\\w.pt`` all name the same asset."""
    parts = [part for part in PurePosixPath(str(path).replace("\\", "/")).parts if part not in ("", ".")]
    if not parts or ".." in parts or parts[0] == "/":
        raise ValueError(f"invalid asset path {path!r}")
    return "/".join(parts)


def is_asset_path(path: str) -> bool:
    return not path.endswith(".py")


class PackageAssets:
    """Files of an unpacked package, some possibly replaced by local files (a checkpoint's)."""

    def __init__(self, root: Path, asset_paths: Iterable[str], replacements: Mapping[str, Path] | None = None):
        self.root = Path(root)
        self._paths = sorted(normalise_asset_path(path) for path in asset_paths)
        self._replacements = {normalise_asset_path(path): Path(local) for path, local in (replacements or {}).items()}
        unknown = sorted(set(self._replacements) - set(self._paths))
        if unknown:
            raise ValueError(f"replacement assets {unknown} are not assets of the package (assets: {self._paths})")

    @classmethod
    def from_folder(cls, root: Path) -> PackageAssets:
        root = Path(root)
        paths = [path.relative_to(root).as_posix() for path in root.rglob("*")
                 if path.is_file() and is_asset_path(path.name) and "__pycache__" not in path.parts]
        return cls(root, paths)

    def paths(self) -> list[str]:
        return list(self._paths)

    def local_path(self, path: str) -> Path:
        key = normalise_asset_path(path)
        if key not in self._paths:
            raise ValueError(f"Failed to fetch asset {path!r}: the package has no such asset "
                             f"(assets: {', '.join(self._paths) or 'none'})")
        return self._replacements.get(key, self.root / key)

    def read(self, path: str) -> io.BytesIO:
        return io.BytesIO(self.local_path(path).read_bytes())
