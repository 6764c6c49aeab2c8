"""Uploads, downloads and deletes of HDF5 item files.

An upload streams to a spool file on the replica's node (bounded memory), is validated there with
h5py, then moves into the blob store; the record is written last (a small body's record is
written while its blob is stored: see ``_store_whole``). Any failure on the way, a client
that disconnects included, removes the spool file: no record, no blob, no temp file remain.
A body that ends within the first spool batch is already whole in memory: it is validated there
and written to the store in one step, without a spool file (most item files are single slices,
and each avoided disk round trip and thread hand-off is a visible share of their latency).
Downloads stream in chunks, with the next chunk read while the current one is sent; a file of
at most one chunk is read whole and answered in one piece.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator

from compox_ray import ids, timestamps
from compox_ray.errors import CompoxError, not_found
from compox_ray.hdf5_validation import hdf5_problem
from compox_ray.settings import Settings
from compox_ray.storage.blobs import BlobStore
from compox_ray.storage.file_records import file_blob_key

# Request chunks are small (~64 KiB); writing them in batches keeps thread hand-offs rare, and
# with one batch written while the next arrives at most two batches are held.
_SPOOL_BATCH_BYTES = 4 * 2**20
# Downloads read a blob of at most this size while its record is looked up (see download); a larger
# one costs that many bytes read twice, so it stays small.
_SMALL_BLOB_BYTES = 2**20


def too_large(limit: int) -> CompoxError:
    return CompoxError(413, "payload_too_large", f"The upload exceeds the limit of {limit} bytes.",
                       max_bytes=limit)


class FileService:
    def __init__(self, settings: Settings, records, blobs: BlobStore):
        self.settings = settings
        self.records = records
        self.blobs = blobs

    async def upload(self, chunks: AsyncIterator[bytes], content_length: int | None = None) -> str:
        limit = self.settings.max_upload_bytes
        if content_length is not None and content_length > limit:
            raise too_large(limit)
        file_id = ids.new_id()
        key = file_blob_key(file_id)
        spool_path = self.settings.spool_dir / f"{file_id}.upload"
        try:
            received = await _receive(chunks, spool_path, limit)
            if isinstance(received, bytes):  # the whole body fitted in the first batch
                await self._store_whole(file_id, key, received)
                return file_id
            problem = await asyncio.to_thread(hdf5_problem, spool_path, self.settings.max_item_bytes)
            if problem:
                raise invalid_hdf5(problem)
            await self.blobs.put_file(key, spool_path, move=True)
            try:
                await self.records.insert_file.remote(file_id, received, timestamps.now())
            except BaseException:
                await self.blobs.delete(key)
                raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_path)
        return file_id

    async def _store_whole(self, file_id: str, key: str, body: bytes) -> None:
        """A body held in memory: validated and stored in one thread hand-off while its record is
        written. Nobody knows the id before the upload answers, so the record need not wait for
        the blob; if either step fails, both are undone."""
        recorded = asyncio.ensure_future(self.records.insert_file.remote(file_id, len(body), timestamps.now()))
        stored = asyncio.ensure_future(asyncio.to_thread(self._validate_and_write, key, body))
        try:
            await asyncio.gather(stored, recorded)
        except BaseException:
            await asyncio.shield(self._undo_store(file_id, key, stored, recorded))
            raise

    def _validate_and_write(self, key: str, body: bytes) -> None:
        # h5py reads a file object as it reads a file
        problem = hdf5_problem(io.BytesIO(body), self.settings.max_item_bytes) if body else "The body is empty."
        if problem:
            raise invalid_hdf5(problem)
        self.blobs.write_bytes(key, body)

    async def _undo_store(self, file_id: str, key: str, *steps: asyncio.Future) -> None:
        await asyncio.gather(*steps, return_exceptions=True)  # a thread runs to its end: let both settle
        await self.records.delete_file.remote(file_id)
        await self.blobs.delete(key)

    async def require(self, file_id: str) -> dict:
        record = await self.records.get_file.remote(file_id) if ids.is_valid_id(file_id) else None
        if record is None and ids.is_valid_id(file_id) and not self.blobs.is_local:
            record = await self._adopt(file_id)
        if record is None:
            raise not_found("file_not_found", f"File {file_id[:64]!r} was not found.")
        return record

    async def _adopt(self, file_id: str) -> dict | None:
        """Register a file a client PUT straight to S3 through a presigned URL, once it is valid."""
        key = file_blob_key(file_id)
        if await self.blobs.size(key) is None:
            return None
        self.settings.spool_dir.mkdir(parents=True, exist_ok=True)
        spool_path = self.settings.spool_dir / f"{file_id}.adopt"
        try:
            await self.blobs.get_file(key, spool_path)
            problem = await asyncio.to_thread(hdf5_problem, spool_path, self.settings.max_item_bytes)
            if problem:
                await self.blobs.delete(key)
                raise CompoxError(422, "invalid_hdf5_file", f"File {file_id} uploaded by URL is refused: {problem}")
            return await self.records.insert_file.remote(file_id, os.path.getsize(spool_path), timestamps.now())
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_path)

    async def presigned_url(self, file_id: str, method: str) -> str:
        if not ids.is_valid_id(file_id):
            raise not_found("file_not_found", f"File {file_id[:64]!r} was not found.")
        if method == "GET":
            await self.require(file_id)
        url = self.blobs.presigned_url(file_blob_key(file_id), method)
        if url is None:
            raise not_found("presigned_urls_unavailable",
                            "This server keeps files in a local directory, which has no presigned URLs.")
        return url

    async def download(self, file_id: str) -> tuple[dict, bytes | AsyncIterator[bytes]]:
        """The record and the bytes: whole for a file of at most one chunk, else an iterator of chunks.
        The blob is opened here, so a missing one is a 404, not a cut stream.

        A small blob is read while the record is looked up (most item files are single slices, and
        the lookup then adds no latency); the bytes are answered only once the record is found."""
        key = file_blob_key(file_id) if ids.is_valid_id(file_id) else None
        small = asyncio.ensure_future(self.blobs.get_bytes_if_at_most(key, _SMALL_BLOB_BYTES)) if key else None
        try:
            record = await self.require(file_id)
            body = await small if record["size"] <= _SMALL_BLOB_BYTES else None
            if body is not None:
                return record, body
            if record["size"] <= self.settings.download_chunk_bytes:
                return record, await self.blobs.get_bytes(key)
            return record, await self.blobs.open_chunks(key, self.settings.download_chunk_bytes)
        except FileNotFoundError:
            raise not_found("file_not_found", f"File {file_id!r} was not found.") from None
        finally:
            if small is not None:
                small.add_done_callback(_consume)  # when unused: its thread may run on, its error is moot

    async def delete(self, file_id: str) -> None:
        if ids.is_valid_id(file_id) and await self.records.delete_file.remote(file_id):
            await self.blobs.delete(file_blob_key(file_id))
            return
        await self.require(file_id)  # 404, or registers a file a client PUT by URL, which then goes
        if not await self.records.delete_file.remote(file_id):
            raise not_found("file_not_found", f"File {file_id!r} was not found.")
        await self.blobs.delete(file_blob_key(file_id))


def _consume(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def invalid_hdf5(problem: str) -> CompoxError:
    return CompoxError(422, "invalid_hdf5_file", f"The upload is refused: {problem}")


async def _receive(chunks: AsyncIterator[bytes], path, limit: int) -> bytes | int:
    """The body itself when it ends within the first batch; else it goes to the spool file at
    ``path`` and its size is returned."""
    first: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        first.append(chunk)
        if size >= _SPOOL_BATCH_BYTES:
            path.parent.mkdir(parents=True, exist_ok=True)
            return await _spool(first, size, chunks, path, limit)
    return b"".join(first)


async def _spool(first: list[bytes], size: int, chunks: AsyncIterator[bytes], path, limit: int) -> int:
    """Write the body to ``path`` in batches, one batch written (in a thread) while the next arrives."""
    writing: asyncio.Future | None = None
    with open(path, "wb") as spool:
        try:
            batch = first
            while batch:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(spool.writelines, batch))
                batch, batched = [], 0
                async for chunk in chunks:  # resumes the same body stream after each batch
                    size += len(chunk)
                    if size > limit:
                        raise too_large(limit)
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= _SPOOL_BATCH_BYTES:
                        break
            await writing
            writing = None
        finally:
            if writing is not None:  # a write in a thread runs to its end: let it, before the file closes
                await asyncio.gather(writing, return_exceptions=True)
    return size
