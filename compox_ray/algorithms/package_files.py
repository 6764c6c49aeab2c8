"""Take a package folder or zip apart into checked files, ready to store by content hash.

A package is staged (copied or extracted) into a private directory first, hashing as it goes, so
what is checked, hashed and stored is one and the same snapshot. A zip is bounded before it is
unpacked: its directory first (zip_directory.py: member count, directory size, names), then the
sizes its members declare (total, and compression ratio per member and overall: zip bombs).
Refused, with a 4xx naming the problem: a zip member with an absolute path, ``..``, a NUL byte or
a name that is not UTF-8, a zip member that is a symlink, a symlink in a folder that points out of
it (or loops), two paths that are equal or differ only by letter case or Unicode normalisation, a
path that is both a file and a folder, more than the allowed bytes (413) or files, no Runner.py or
pyproject.toml at the root. Caches and VCS folders (``__pycache__``, ``.git``, ``*.pyc``) are left
out, so running a package locally does not change its content hash. The package digest is a
sha256 over the sorted (path, file sha256) list.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import shutil
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from compox_ray.algorithms.manifest import PackageMetadata, invalid_package, read_package_metadata
from compox_ray.algorithms.zip_directory import check_zip_directory
from compox_ray.errors import CompoxError

IGNORED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".ipynb_checkpoints", ".pytest_cache",
                          ".mypy_cache", ".ruff_cache", "__MACOSX"})
IGNORED_FILES = frozenset({".DS_Store", ".gitignore", ".gitattributes", ".gitmodules"})
IGNORED_SUFFIXES = (".pyc", ".pyo")
COPY_CHUNK_BYTES = 4 * 2**20
# Zip bombs: a member, or the whole zip, may unpack to at most this many times its compressed size
# once it is larger than the grace (small text files compress well and harm nobody). Deflate's own
# ceiling is ~1000; model weights and code stay far below 100.
MAX_COMPRESSION_RATIO = 100
COMPRESSION_RATIO_GRACE_BYTES = 2**20
# Entries a zip may hold per allowed file: room for folder entries and caches that are left out.
ZIP_MEMBERS_PER_FILE = 2


@dataclass(frozen=True)
class PackageFile:
    path: str  # relative, forward slashes
    sha256: str
    size: int

    def as_record(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class PackageLimits:
    max_bytes: int
    max_files: int


@dataclass
class StagedPackage:
    root: Path
    files: list[PackageFile]
    digest: str
    metadata: PackageMetadata

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)

    def python_sources(self) -> dict[str, bytes]:
        return {file.path: (self.root / file.path).read_bytes() for file in self.files if file.path.endswith(".py")}


def package_digest(files: list[PackageFile]) -> str:
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda file: file.path):
        digest.update(f"{file.path}\0{file.sha256}\n".encode())
    return digest.hexdigest()


def too_large(limit: int) -> CompoxError:
    return CompoxError(413, "payload_too_large", f"The package exceeds the limit of {limit} bytes.", max_bytes=limit)


def is_ignored(relative_path: str) -> bool:
    parts = relative_path.split("/")
    return (any(part in IGNORED_DIRS for part in parts[:-1]) or parts[-1] in IGNORED_FILES
            or parts[-1].endswith(IGNORED_SUFFIXES))


def checked_relative_path(name: str) -> str:
    """A member name as a safe relative path with forward slashes; 422 if it could leave the package."""
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    if (normalised.startswith("/") or not parts or any(part in ("..", "") for part in parts)
            or ":" in parts[0] or "\0" in normalised):
        raise invalid_package(f"The package contains an unsafe path {name[:200]!r} (absolute, leaving the package, "
                              "or with a NUL byte).")
    return "/".join(part for part in parts if part != ".")


class _Budget:
    """Counts files and bytes against the limits while staging."""

    def __init__(self, limits: PackageLimits):
        self.limits, self.files, self.bytes = limits, 0, 0

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise invalid_package(f"The package has more than {self.limits.max_files} files.")

    def add_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limits.max_bytes:
            raise too_large(self.limits.max_bytes)


def _copy_hashing(source: BinaryIO, target: Path, budget: _Budget) -> tuple[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        while chunk := source.read(COPY_CHUNK_BYTES):
            budget.add_bytes(len(chunk))
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def iter_folder_files(source: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, file) for every file of a package folder, symlinks inside it followed.

    A symlink that resolves outside the folder is refused; a directory reached twice through
    links is walked once.
    """
    root = Path(source).resolve()
    seen_dirs: set[Path] = set()
    for directory, dirnames, filenames in os.walk(root, followlinks=True):
        real_directory = Path(directory).resolve()
        if real_directory != root and root not in real_directory.parents:
            raise invalid_package(f"A symlink in the package points outside it: {Path(directory).relative_to(root)}")
        if real_directory in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real_directory)
        dirnames[:] = sorted(name for name in dirnames if name not in IGNORED_DIRS)
        for name in sorted(filenames):
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            if is_ignored(relative):
                continue
            try:
                real = path.resolve()
            except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError for a symlink loop
                raise invalid_package(f"A symlink in the package loops or cannot be resolved: {relative}") from None
            if root not in real.parents:
                raise invalid_package(f"A symlink in the package points outside it: {relative}")
            if real.is_file():
                yield relative, path


def _collision_key(path: str) -> str:
    # Paths equal but for case or Unicode normalisation name one file on macOS and Windows.
    return unicodedata.normalize("NFC", path).casefold()


def _check_path_collisions(paths: list[str]) -> None:
    seen: dict[str, str] = {}
    for path in paths:
        key = _collision_key(path)
        other = seen.get(key)
        if other is None:
            seen[key] = path
            continue
        if other == path:  # equal strings, as two zip members or two names that normalise alike
            raise invalid_package(f"The package holds {path!r} twice.")
        raise invalid_package(f"The package holds {other!r} and {path!r}, which differ only by letter case "
                              "or Unicode normalisation.")
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = seen.get(_collision_key("/".join(parts[:depth])))
            if folder is not None:
                raise invalid_package(f"The package holds {folder!r} both as a file and as the folder of {path!r}.")


def _finish(staging: Path, files: list[PackageFile]) -> StagedPackage:
    paths = {file.path for file in files}
    if "Runner.py" not in paths:
        raise invalid_package("The package has no Runner.py at its root.")
    metadata = read_package_metadata(staging)
    return StagedPackage(root=staging, files=sorted(files, key=lambda file: file.path),
                         digest=package_digest(files), metadata=metadata)


def stage_folder(source: Path, staging: Path, limits: PackageLimits) -> StagedPackage:
    """Copy a package folder into ``staging`` (which must not exist yet) and check it."""
    source = Path(source)
    if not source.is_dir():
        raise CompoxError(400, "invalid_deploy_path_type", f"{source} is not a directory.")
    budget = _Budget(limits)
    files = []
    staging.mkdir(parents=True)
    for relative, path in iter_folder_files(source):
        budget.add_file()
        try:
            handle = open(path, "rb")
        except OSError as error:  # unreadable, or gone since the walk
            raise invalid_package(f"The package file {relative} cannot be read: {error.strerror}") from None
        with handle:
            sha256, size = _copy_hashing(handle, staging / relative, budget)
        files.append(PackageFile(relative, sha256, size))
    _check_path_collisions([file.path for file in files])
    return _finish(staging, files)


def _zip_members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    members = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise invalid_package(f"The zip contains a symlink ({info.filename}); packages hold plain files only.")
        if info.flag_bits & 0x1:
            raise invalid_package(f"The zip member {info.filename} is encrypted.")
        relative = checked_relative_path(info.filename)
        if not is_ignored(relative):
            members.append((info, relative))
    names = {relative for _, relative in members}
    if "pyproject.toml" not in names:
        # A zip of the folder itself (as Compox accepts): one top directory holding the package.
        tops = {relative.split("/", 1)[0] for relative in names}
        if len(tops) == 1 and all("/" in name for name in names) and f"{next(iter(tops))}/pyproject.toml" in names:
            members = [(info, relative.split("/", 1)[1]) for info, relative in members]
    return members


def _check_declared_sizes(members: list[tuple[zipfile.ZipInfo, str]], zip_size: int, limits: PackageLimits) -> None:
    """What the members declare, before anything is unpacked (zipfile never unpacks more than a
    member declares)."""
    declared = sum(info.file_size for info, _ in members)
    if declared > limits.max_bytes:
        raise too_large(limits.max_bytes)
    for info, _ in members:
        size = info.file_size
        if size > COMPRESSION_RATIO_GRACE_BYTES and size > MAX_COMPRESSION_RATIO * info.compress_size:
            raise invalid_package(f"The zip member {info.filename} unpacks to {size} bytes from "
                                  f"{info.compress_size}: more than {MAX_COMPRESSION_RATIO} times (a zip bomb?).")
    if declared > COMPRESSION_RATIO_GRACE_BYTES and declared > MAX_COMPRESSION_RATIO * zip_size:
        raise invalid_package(f"The zip unpacks to {declared} bytes from {zip_size}: more than "
                              f"{MAX_COMPRESSION_RATIO} times (a zip bomb?).")


def stage_zip(zip_path: Path, staging: Path, limits: PackageLimits) -> StagedPackage:
    """Extract a package zip into ``staging`` (which must not exist yet) and check it."""
    check_zip_directory(zip_path, limits.max_files * ZIP_MEMBERS_PER_FILE)
    try:
        # Names are UTF-8 (checked above), also where a zip tool did not flag them so.
        archive = zipfile.ZipFile(zip_path, metadata_encoding="utf-8")
    except Exception as error:  # a damaged directory raises BadZipFile, ValueError, struct.error, ...
        raise invalid_package(f"The upload is not a readable zip file: {error}") from None
    with archive:
        members = _zip_members(archive)
        _check_path_collisions([relative for _, relative in members])
        _check_declared_sizes(members, Path(zip_path).stat().st_size, limits)
        budget = _Budget(limits)  # counts bytes actually extracted too
        files = []
        staging.mkdir(parents=True)
        for info, relative in members:
            budget.add_file()
            try:
                with archive.open(info) as member:
                    sha256, size = _copy_hashing(member, staging / relative, budget)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError,
                    zlib.error, lzma.LZMAError) as error:
                raise invalid_package(f"The zip member {info.filename} cannot be read: {error}") from None
            files.append(PackageFile(relative, sha256, size))
    return _finish(staging, files)


def stage_path(path: Path, staging: Path, limits: PackageLimits) -> StagedPackage:
    """A folder or a .zip file on this machine."""
    if path.is_dir():
        return stage_folder(path, staging, limits)
    if path.is_file() and path.suffix.lower() == ".zip":
        return stage_zip(path, staging, limits)
    raise CompoxError(400, "invalid_deploy_path_type", f"{path} is neither a directory nor a .zip file.")


def remove_staging(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
