"""Blob storage behind one small interface; fsspec picks the backend from the URI.

``file:///abs/dir`` is a local directory, ``s3://bucket/prefix`` is S3 through s3fs. Keys are
relative paths such as ``files/<uuid>``. Every write is atomic: a reader sees the whole object or
nothing. fsspec calls are blocking (s3fs runs its own loop), so each runs in a worker thread and
never blocks the caller's event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from compox_ray.settings import Settings

# Uploads to S3 (s3fs holds what is in flight in memory): one PUT up to 128 MiB, else parts of
# 64 MiB two at a time; 128 MiB at most either way. Item files are mostly far smaller than that,
# and a single PUT is the fastest path on every S3 server tried (moto ingests parts at half speed).
S3_PART_BYTES = 64 * 2**20
S3_PARTS_IN_FLIGHT = 2

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


def _check_key(key: str) -> str:
    if not _KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobStore:
    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, url_fs: fsspec.AbstractFileSystem | None = None):
        self.fs = fs
        self.root = root.rstrip("/")
        self.url_fs = url_fs or fs  # signs presigned URLs: S3 as clients reach it
        self.is_local = isinstance(fs, LocalFileSystem)
        self._root_ready = False

    def path(self, key: str) -> str:
        return f"{self.root}/{_check_key(key)}"

    def _ensure_root(self) -> None:
        if not self._root_ready:
            if self.is_local:
                os.makedirs(self.root, exist_ok=True)
            else:
                bucket = self.root.split("/", 1)[0]
                if not self.fs.exists(bucket):
                    try:
                        self.fs.mkdir(bucket)  # no region: S3-compatible servers on loopback reject one
                    except FileExistsError:
                        pass  # a concurrent first write created it
            self._root_ready = True

    # -- writes ---------------------------------------------------------------------------------
    def _put_file(self, key: str, local_path: Path, move: bool) -> None:
        self._ensure_root()
        target = self.path(key)
        if self.is_local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if move:
                try:
                    os.replace(local_path, target)  # same filesystem: atomic and free
                    return
                except OSError:
                    pass
            staged = f"{target}.{uuid.uuid4().hex}.partial"
            shutil.copyfile(local_path, staged)
            os.replace(staged, target)
            if move:
                os.unlink(local_path)
        else:
            # S3 objects appear only when complete. s3fs reads every part in flight into memory
            # (by default 10 parts of 50 MiB): bound it.
            self.fs.put_file(str(local_path), target, chunksize=S3_PART_BYTES, max_concurrency=S3_PARTS_IN_FLIGHT)
            if move:
                os.unlink(local_path)

    async def put_file(self, key: str, local_path: Path, *, move: bool = False) -> None:
        await asyncio.to_thread(self._put_file, key, Path(local_path), move)

    def write_bytes(self, key: str, data: bytes) -> None:
        """Blocking: for worker threads (algorithm code); coroutines use ``put_bytes``."""
        self._ensure_root()
        target = self.path(key)
        if self.is_local:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            staged = f"{target}.{uuid.uuid4().hex}.partial"
            with open(staged, "wb") as out:
                out.write(data)
            os.replace(staged, target)
        else:
            self.fs.pipe_file(target, data)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self.write_bytes, key, data)

    # -- reads ----------------------------------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        """Blocking: for worker threads (algorithm code); coroutines use ``get_bytes``."""
        # Whole object, not h5py over the filesystem: h5py makes many small ranged reads.
        return self.fs.cat_file(self.path(key))

    async def get_bytes(self, key: str) -> bytes:
        return await asyncio.to_thread(self.read_bytes, key)

    def _read_if_at_most(self, key: str, limit: int) -> bytes | None:
        if self.is_local:
            with open(self.path(key), "rb", buffering=0) as blob:
                return None if os.fstat(blob.fileno()).st_size > limit else blob.readall()
        head = self.fs.cat_file(self.path(key), start=0, end=limit + 1)  # one ranged GET, no HEAD first
        return None if len(head) > limit else head

    async def get_bytes_if_at_most(self, key: str, limit: int) -> bytes | None:
        """The whole object if it has at most ``limit`` bytes, else None (having read at most
        ``limit + 1`` of them); FileNotFoundError if there is none."""
        return await asyncio.to_thread(self._read_if_at_most, key, limit)

    async def get_file(self, key: str, local_path: Path) -> None:
        await asyncio.to_thread(self.fs.get_file, self.path(key), str(local_path))

    def iter_chunks(self, key: str, chunk_bytes: int) -> AsyncIterator[bytes]:
        """The object in chunks of ``chunk_bytes``, the next one read while the caller sends this one.

        A local file is read straight from its descriptor; an S3 object comes from one streamed GET
        (not a ranged GET per chunk). At most two chunks are in memory at a time.
        """
        return _read_ahead(self._reader(key), chunk_bytes)

    async def open_chunks(self, key: str, chunk_bytes: int) -> AsyncIterator[bytes]:
        """``iter_chunks`` with the object opened first: FileNotFoundError here, before a response
        has started, and a local file deleted meanwhile is still read whole (its descriptor is open)."""
        reader = self._reader(key)
        try:
            await reader.open()
        except BaseException:
            await reader.close()
            raise
        return _read_ahead(reader, chunk_bytes)

    async def open_range(self, key: str, start: int, end: int, chunk_bytes: int) -> AsyncIterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) of the object in chunks, opened first as in
        ``open_chunks``; a local file is read from its descriptor at that offset, an S3 object by
        one ranged GET per chunk."""
        if self.is_local:
            reader = _LocalReader(self.path(key), start, end - start + 1)
        else:
            reader = _S3RangeReader(self.fs, self.path(key), start, end - start + 1)
        try:
            await reader.open()
        except BaseException:
            await reader.close()
            raise
        return _read_ahead(reader, chunk_bytes)

    def _reader(self, key: str):
        return _LocalReader(self.path(key)) if self.is_local else _S3Reader(self.fs, self.path(key))

    def _fresh_path(self, key: str) -> str:
        # s3fs answers from listings it cached earlier, and other processes delete blobs.
        path = self.path(key)
        self.fs.invalidate_cache(path)
        return path

    async def size(self, key: str) -> int | None:
        try:
            return await asyncio.to_thread(lambda: self.fs.size(self._fresh_path(key)))
        except FileNotFoundError:
            return None

    def has(self, key: str) -> bool:
        """Blocking: for worker threads; coroutines use ``exists``."""
        return self.fs.exists(self._fresh_path(key))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.has, key)

    def local_path(self, key: str) -> Path | None:
        """The file itself where the store is a local directory (zero-copy reads), else None."""
        return Path(self.path(key)) if self.is_local else None

    # -- deletes --------------------------------------------------------------------------------
    def _delete(self, key: str) -> None:
        try:
            self.fs.rm_file(self.path(key))
        except FileNotFoundError:
            pass

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _stale_keys(self, prefix: str, before: float) -> list[str]:
        try:
            entries = self.fs.ls(self._fresh_path(prefix), detail=True)
        except FileNotFoundError:
            return []
        stale = []
        for entry in entries:
            modified = entry.get("LastModified") or entry.get("mtime")
            when = modified.timestamp() if hasattr(modified, "timestamp") else modified
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if entry.get("type") == "file" and when is not None and when < before:
                stale.append(f"{prefix}/{name}")
        return stale

    def _list_names(self, prefix: str) -> list[str]:
        try:
            return [path.rstrip("/").rsplit("/", 1)[-1] for path in self.fs.ls(self._fresh_path(prefix), detail=False)]
        except FileNotFoundError:
            return []

    async def list_names(self, prefix: str) -> list[str]:
        """The names of the objects directly under ``prefix``."""
        return await asyncio.to_thread(self._list_names, prefix)

    async def stale_keys(self, prefix: str, before: float) -> list[str]:
        """Keys directly under ``prefix`` last written before the epoch time ``before``."""
        return await asyncio.to_thread(self._stale_keys, prefix, before)

    def presigned_url(self, key: str, method: str, expires_s: int = 3600) -> str | None:
        """A URL a client can use directly; None where the backend has none (a local directory).
        Blocking (s3fs signs on its own loop): coroutines call it in a thread."""
        if self.is_local:
            return None
        client_method = {"GET": "get_object", "PUT": "put_object"}[method]
        if method == "PUT":
            self._ensure_root()  # a PUT into a bucket not made yet would find none
        return self.url_fs.url(self.path(key), expires=expires_s, client_method=client_method)


class _LocalReader:
    """Unbuffered reads of a local file in a worker thread: one copy, from the page cache; from
    ``offset``, at most ``length`` bytes (None: to the end)."""

    cancellable = False  # a read in a thread runs to its end: wait for it before closing the file

    def __init__(self, path: str, offset: int = 0, length: int | None = None):
        self.path = path
        self.handle = None
        self.offset = offset
        self.remaining = length

    def _open(self):
        handle = open(self.path, "rb", buffering=0)
        if self.offset:
            handle.seek(self.offset)
        return handle

    async def open(self) -> None:
        if self.handle is None:
            self.handle = await asyncio.to_thread(self._open)

    async def read(self, size: int) -> bytes:
        await self.open()
        if self.remaining is not None:
            size = min(size, self.remaining)
            if size <= 0:
                return b""
        chunk = await asyncio.to_thread(self.handle.read, size)
        if self.remaining is not None:
            self.remaining -= len(chunk)
        return chunk

    async def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


class _S3Reader:
    """One streamed GET through s3fs's own event loop (the caller's loop never blocks on it)."""

    cancellable = True

    def __init__(self, fs, path: str):
        self.fs = fs
        self.path = path
        self.stream = None

    async def _on_fs_loop(self, coroutine):
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.fs.loop))

    async def open(self) -> None:
        if self.stream is None:
            self.stream = await self._on_fs_loop(self.fs.open_async(self.path, "rb"))
            await self._on_fs_loop(self.stream.read(0))  # sends the GET: a missing object fails here

    async def read(self, size: int) -> bytes:
        await self.open()
        return await self._on_fs_loop(self.stream.read(size))

    async def close(self) -> None:
        body = getattr(self.stream, "r", None)  # the HTTP response; release it even when not read to the end
        if body is not None:
            await self._on_fs_loop(_close_body(body))


async def _close_body(body) -> None:
    body.close()


class _S3RangeReader:
    """``length`` bytes of an S3 object from ``offset``, one ranged GET per chunk on s3fs's loop."""

    cancellable = True

    def __init__(self, fs, path: str, offset: int, length: int):
        self.fs = fs
        self.path = path
        self.position = offset
        self.end = offset + length  # exclusive

    async def _on_fs_loop(self, coroutine):
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.fs.loop))

    async def open(self) -> None:
        await self._on_fs_loop(self.fs._info(self.path))  # a missing object fails here, before a response

    async def read(self, size: int) -> bytes:
        if self.position >= self.end:
            return b""
        stop = min(self.end, self.position + size)
        chunk = await self._on_fs_loop(self.fs._cat_file(self.path, start=self.position, end=stop))
        self.position += len(chunk)
        if not chunk:
            self.position = self.end
        return chunk

    async def close(self) -> None:
        pass


async def _read_ahead(reader, chunk_bytes: int) -> AsyncIterator[bytes]:
    pending = asyncio.ensure_future(reader.read(chunk_bytes))
    try:
        while chunk := await pending:
            pending = asyncio.ensure_future(reader.read(chunk_bytes))
            yield chunk
    finally:
        if reader.cancellable and not pending.done():
            pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        await reader.close()


def open_blob_store(settings: Settings) -> BlobStore:
    options: dict = {}
    if settings.blob_uri.startswith("s3://"):
        options = {
            "key": settings.s3_access_key_id,
            "secret": settings.s3_secret_access_key,
            "endpoint_url": settings.s3_endpoint_url,
            "client_kwargs": {"region_name": settings.s3_region} if settings.s3_region else {},
        }
        options = {k: v for k, v in options.items() if v}
    fs, root = fsspec.url_to_fs(settings.blob_uri, **options)
    url_fs = None
    if settings.s3_public_endpoint_url and not isinstance(fs, LocalFileSystem):
        # Signature V4 covers the host: URLs for clients that reach S3 elsewhere are signed for it.
        url_fs, _ = fsspec.url_to_fs(settings.blob_uri, **(options | {"endpoint_url": settings.s3_public_endpoint_url}))
    return BlobStore(fs, root, url_fs)
