"""Packages unpacked on this node's disk, by content hash, fetched from the blob store on first use.

``<package_cache_dir>/<digest>/`` appears only complete: files are fetched into a private
``.partial`` folder, each checked against its sha256, then the folder is renamed into place. Two
processes racing for the same package both finish; one rename wins and the other copy is dropped.
Content never changes under a digest, so a present folder is always valid.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from compox_ray.algorithms.package_files import checked_relative_path
from compox_ray.storage.algorithm_records import content_blob_key
from compox_ray.storage.blobs import BlobStore

CHUNK_BYTES = 4 * 2**20


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_blob(blobs: BlobStore, key: str, target: Path, sha256: str | None = None) -> None:
    """Copy one blob to ``target`` (blocking), checking its hash when one is given."""
    target.parent.mkdir(parents=True, exist_ok=True)
    blobs.fs.get_file(blobs.path(key), str(target))
    if sha256 is not None and _sha256_of(target) != sha256:
        raise RuntimeError(f"blob {key} does not match its sha256 {sha256}: the blob store copy is damaged")


def _materialise(cache_dir: Path, name: str, entries: list[tuple[str, str, str | None]], blobs: BlobStore) -> Path:
    final = cache_dir / name
    if final.is_dir():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = cache_dir / f".{name}.{uuid.uuid4().hex}.partial"
    try:
        for relative, key, sha256 in entries:
            fetch_blob(blobs, key, staging / checked_relative_path(relative), sha256)
        staging.mkdir(parents=True, exist_ok=True)  # a package may consist of no fetched file at all
        try:
            os.rename(staging, final)
        except OSError:
            if not final.is_dir():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def materialise_package(cache_dir: Path, blobs: BlobStore, digest: str, files: list[dict]) -> Path:
    """The unpacked package ``digest``; ``files`` are its records: {path, sha256, size}."""
    entries = [(file["path"], content_blob_key(file["sha256"]), file["sha256"]) for file in files]
    return _materialise(Path(cache_dir), digest, entries, blobs)


def materialise_checkpoint_assets(cache_dir: Path, blobs: BlobStore, checkpoint_id: str,
                                  assets: dict[str, str]) -> dict[str, Path]:
    """A checkpoint's assets ({relative path: blob key}) on local disk: {relative path: file}."""
    entries = [(relative, key, None) for relative, key in sorted(assets.items())]
    root = _materialise(Path(cache_dir) / "checkpoints", checkpoint_id, entries, blobs)
    return {relative: root / checked_relative_path(relative) for relative in assets}
