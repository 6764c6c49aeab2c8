"""Uploads, downloads and deletes of HDF5 item files.

An upload streams to a spool file on the replica's node (bounded memory), is validated there with
h5py, then moves into the blob store; the record is written last (a small body's record is
written while its blob is stored: see ``_store_whole``). Any failure on the way, a client
that disconnects included, removes the spool file: no record, no blob, no temp file remain.
A body that ends within the first spool batch is already whole in memory: it is validated there
and written to the store in one step, without a spool file (most item files are single slices,
and each avoided disk round trip and thread hand-off is a visible share of their latency).
Downloads stream in chunks, with the next chunk read while the current one is sent; a file of
at most one chunk is read whole and answered in one piece; a byte range (``Range``) reads only its
bytes. A name a client uploaded by v1 URL is adopted where it is first used (object_transfers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from compox_ray import ids, metrics, timestamps
from compox_ray.byte_ranges import ByteRange
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


@dataclass(frozen=True)
class Download:
    """What a download answers: ``body`` (whole bytes, or chunks) holds bytes ``start``..``end``
    (inclusive) of a file of ``size`` bytes; ``partial`` when a range was asked for."""

    size: int
    start: int
    end: int
    body: bytes | AsyncIterator[bytes]
    partial: bool = False

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def range_not_satisfiable(size: int) -> CompoxError:
    error = CompoxError(416, "range_not_satisfiable", f"The requested range lies outside the file's {size} bytes.",
                        size=size)
    error.headers = {"Content-Range": f"bytes */{size}"}
    return error


class FileService:
    def __init__(self, settings: Settings, records, blobs: BlobStore, transfers=None):
        self.settings = settings
        self.records = records
        self.blobs = blobs
        self.transfers = transfers  # ObjectTransferService: adopts objects uploaded by v1 URL

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
                metrics.count_transfer("upload", len(received))
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
        metrics.count_transfer("upload", received)
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
        """The file's record; a name uploaded by v1 URL is adopted here on first use (422 if its
        bytes are refused). 404 file_not_found."""
        valid = ids.is_valid_file_id(file_id)
        record = await self.records.get_file.remote(file_id) if valid else None
        if record is None and valid and self.transfers is not None:
            record = await self.transfers.adopt(file_id)
        if record is None:
            raise not_found("file_not_found", f"File {file_id[:64]!r} was not found.")
        return record

    async def download(self, file_id: str, requested: ByteRange | None = None) -> Download:
        """The file's bytes (``requested`` ones only, when given): whole for at most one chunk, else
        an iterator of chunks. The blob is opened here, so a missing one is a 404, not a cut stream;
        an unsatisfiable range is 416.

        A small blob is read while the record is looked up (most item files are single slices, and
        the lookup then adds no latency); the bytes are answered only once the record is found."""
        key = file_blob_key(file_id) if ids.is_valid_file_id(file_id) else None
        small = asyncio.ensure_future(self.blobs.get_bytes_if_at_most(key, _SMALL_BLOB_BYTES)) if key else None
        try:
            record = await self.require(file_id)
            size = record["size"]
            start, end = 0, size - 1
            if requested is not None:
                span = requested.resolve(size)
                if span is None:
                    raise range_not_satisfiable(size)
                start, end = span
            body = await self._read(key, size, start, end, small)
            metrics.count_transfer("download", end - start + 1)
            return Download(size, start, end, body, partial=requested is not None)
        except FileNotFoundError:
            raise not_found("file_not_found", f"File {file_id!r} was not found.") from None
        finally:
            if small is not None:
                small.add_done_callback(_consume)  # when unused: its thread may run on, its error is moot

    async def _read(self, key: str, size: int, start: int, end: int, small: asyncio.Future):
        chunk = self.settings.download_chunk_bytes
        if size <= _SMALL_BLOB_BYTES:
            try:
                body = await small
            except FileNotFoundError:  # read before the record was there (a v1 upload adopted just now)
                body = None
            if body is None or len(body) != size:
                body = await self.blobs.get_bytes(key)
            return body[start:end + 1]
        if start == 0 and end == size - 1:
            if size <= chunk:
                return await self.blobs.get_bytes(key)
            return await self.blobs.open_chunks(key, chunk)
        return await self.blobs.open_range(key, start, end, chunk)

    async def delete(self, file_id: str) -> None:
        """The record and the blob; an upload by v1 URL not adopted yet goes too. Its staged object
        goes first: a failure after that leaves the file in place or an orphan blob that nothing
        reads, never a deleted file that a later reference brings back."""
        if not ids.is_valid_file_id(file_id):
            raise not_found("file_not_found", f"File {file_id[:64]!r} was not found.")
        staged = self.transfers is not None and await self.transfers.discard_upload(file_id)
        if await self.records.delete_file.remote(file_id):
            await self.blobs.delete(file_blob_key(file_id))
        elif not staged:
            raise not_found("file_not_found", f"File {file_id!r} was not found.")


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
