"""Uploads, downloads and deletes of HDF5 item files.

An upload streams to a spool file on the replica's node (bounded memory), is validated there with
h5py, then moves into the blob store; the record is written last. Any failure on the way, a client
that disconnects included, removes the spool file: no record, no blob, no temp file remain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

from compox_ray import ids, timestamps
from compox_ray.errors import CompoxError, not_found
from compox_ray.hdf5_validation import is_hdf5_file
from compox_ray.settings import Settings
from compox_ray.storage.blobs import BlobStore
from compox_ray.storage.file_records import file_blob_key

# Request chunks are small (~64 KiB); writing them in batches keeps thread hand-offs rare, and
# with one batch written while the next arrives at most two batches are held.
_SPOOL_BATCH_BYTES = 4 * 2**20


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
        self.settings.spool_dir.mkdir(parents=True, exist_ok=True)
        spool_path = self.settings.spool_dir / f"{file_id}.upload"
        try:
            size = await _spool(chunks, spool_path, limit)
            if size == 0 or not await asyncio.to_thread(is_hdf5_file, spool_path):
                raise CompoxError(422, "invalid_hdf5_file", "The uploaded bytes are not a complete HDF5 file.")
            await self.blobs.put_file(file_blob_key(file_id), spool_path, move=True)
            try:
                await self.records.insert_file.remote(file_id, size, timestamps.now())
            except BaseException:
                await self.blobs.delete(file_blob_key(file_id))
                raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_path)
        return file_id

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
            if not await asyncio.to_thread(is_hdf5_file, spool_path):
                await self.blobs.delete(key)
                raise CompoxError(422, "invalid_hdf5_file", f"File {file_id} uploaded by URL is not a complete HDF5 file.")
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

    async def download(self, file_id: str) -> tuple[dict, AsyncIterator[bytes]]:
        """The record and the bytes; the blob is opened here, so a missing one is a 404, not a cut stream."""
        record = await self.require(file_id)
        try:
            chunks = await self.blobs.open_chunks(file_blob_key(file_id), self.settings.download_chunk_bytes)
        except FileNotFoundError:
            raise not_found("file_not_found", f"File {file_id!r} was not found.") from None
        return record, chunks

    async def delete(self, file_id: str) -> None:
        await self.require(file_id)
        if not await self.records.delete_file.remote(file_id):
            raise not_found("file_not_found", f"File {file_id!r} was not found.")
        await self.blobs.delete(file_blob_key(file_id))


async def _spool(chunks: AsyncIterator[bytes], path, limit: int) -> int:
    """Write the body to ``path`` in batches, one batch written (in a thread) while the next arrives."""
    size = 0
    batch: list[bytes] = []
    batched = 0
    writing: asyncio.Future | None = None
    with open(path, "wb") as spool:
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                batch.append(chunk)
                batched += len(chunk)
                if batched >= _SPOOL_BATCH_BYTES:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(spool.writelines, batch))
                    batch, batched = [], 0
            if writing is not None:
                await writing
                writing = None
            if batch:
                await asyncio.to_thread(spool.writelines, batch)
        finally:
            if writing is not None:  # a write in a thread runs to its end: let it, before the file closes
                await asyncio.gather(writing, return_exceptions=True)
    return size
