"""v1 object transfers (Compox's /api/v1/files): a client names an object, PUTs its bytes to a URL
the server hands out, and uses the name as a file id from then on.

Where the bytes go: never where a record points. An upload is staged (``uploads/<name>`` in the
blob store); where the name is first referenced (an execution's input, a sample, a download or
its URL, a delete) the staged object is adopted: its size checked against ``max_upload_bytes``,
its bytes validated as HDF5 (hdf5_validation, as any upload), the validated copy stored as the
file's blob and recorded like any uploaded file (it expires like one). From then on the name is
taken: a new upload URL answers 409 ``file_exists``, and a URL handed out before can only write
the staged object again, which nothing reads. Before adoption, a new upload replaces the staged
object, as in Compox. One caller adopts a name at a time (file_adoption_records.py).

URLs: on S3, presigned S3 URLs (the bytes never pass through this server), signed for
``s3_public_endpoint_url`` where clients reach S3 through another host; on a local store, URLs
to this server's own streaming endpoints, signed with an HMAC (signed_urls.py). Both expire after
``transfer_url_expiry_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from compox_ray import ids, metrics, timestamps
from compox_ray.errors import CompoxError, not_found
from compox_ray.hdf5_validation import hdf5_problem
from compox_ray.services.files import _receive, too_large
from compox_ray.services.signed_urls import UrlSigner
from compox_ray.settings import Settings
from compox_ray.storage.blobs import BlobStore
from compox_ray.storage.file_adoption_records import UPLOADS_PREFIX, upload_blob_key
from compox_ray.storage.file_records import file_blob_key

# An adopter that has not finished in this long is taken for dead (its claim may be taken over).
_ADOPTION_HOLD_S = 600.0
# Adoptions of one request run this many at a time (each reads and validates one whole file).
_ADOPTIONS_AT_ONCE = 8
# Up to this many missing ids are looked up one by one; more, by listing the staged objects once.
_LOOKUPS_ONE_BY_ONE = 32


def invalid_name(name: str) -> CompoxError:
    return CompoxError(422, "invalid_object_name", f"Object name {name[:64]!r} is not valid: use 1 to 128 letters, "
                       "digits, '.', '_' or '-', not starting with '.'.")


class ObjectTransferService:
    def __init__(self, settings: Settings, records, blobs: BlobStore):
        self.settings = settings
        self.records = records
        self.blobs = blobs
        self.signer = UrlSigner.for_settings(settings) if blobs.is_local else None
        self.holder = ids.new_id()  # this replica, as the holder of adoption claims

    # -- URLs -----------------------------------------------------------------------------------
    async def upload_url(self, name: str, endpoint_url: str) -> str:
        """A URL to PUT the object ``name`` to; ``endpoint_url`` is this server's own endpoint for
        it (used by a local store). 409 file_exists once the name has been adopted."""
        if not ids.is_valid_file_id(name):
            raise invalid_name(name)
        if await self.records.get_file.remote(name) is not None:
            raise CompoxError(409, "file_exists", f"File {name!r} exists; its bytes cannot be replaced. Delete it "
                              "first, or upload under another name.", file_id=name)
        return await self._url("PUT", name, upload_blob_key(name), endpoint_url)

    async def download_url(self, name: str, endpoint_url: str, record: dict) -> str:
        """A URL to GET the file ``name`` (whose ``record`` the caller has required)."""
        return await self._url("GET", name, file_blob_key(record["file_id"]), endpoint_url)

    async def _url(self, method: str, name: str, key: str, endpoint_url: str) -> str:
        if self.signer is not None:
            return f"{endpoint_url}?{urlencode(self.signer.query(method, name))}"
        return await asyncio.to_thread(self.blobs.presigned_url, key, method, self.settings.transfer_url_expiry_s)

    def verify(self, method: str, name: str, expires: str | None, signature: str | None) -> None:
        """403 unless this is a URL ``_url`` signed for ``method`` on ``name`` and it has not expired."""
        if self.signer is None:
            raise not_found("not_found", "This server hands out presigned S3 URLs; it has no signed endpoints.")
        if not ids.is_valid_file_id(name):
            raise invalid_name(name)
        self.signer.verify(method, name, expires, signature)

    # -- a local store's signed upload ------------------------------------------------------------
    async def receive_upload(self, name: str, chunks: AsyncIterator[bytes], content_length: int | None) -> None:
        """Stage the body of a signed PUT (verified by the caller) as the object ``name``, replacing
        an earlier upload that was not adopted; nothing is validated before adoption (as on S3)."""
        limit = self.settings.max_upload_bytes
        if content_length is not None and content_length > limit:
            raise too_large(limit)
        if await self.records.get_file.remote(name) is not None:
            raise CompoxError(409, "file_exists", f"File {name!r} exists; its bytes cannot be replaced.", file_id=name)
        self.settings.spool_dir.mkdir(parents=True, exist_ok=True)
        spool_path = self.settings.spool_dir / f"{ids.new_id()}.staged"
        try:
            received = await _receive(chunks, spool_path, limit)
            if isinstance(received, bytes):
                await self.blobs.put_bytes(upload_blob_key(name), received)
                size = len(received)
            else:
                await self.blobs.put_file(upload_blob_key(name), spool_path, move=True)
                size = received
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_path)
        metrics.count_transfer("upload", size)

    # -- adoption ---------------------------------------------------------------------------------
    async def adopt(self, name: str) -> dict | None:
        """The record of ``name``, adopting its staged upload if it has none; None if there is
        neither. 413 payload_too_large or 422 invalid_hdf5_file (the upload is then discarded)."""
        if await self.blobs.size(upload_blob_key(name)) is None:
            # Nothing to adopt (an unknown id costs no claim), or another caller adopted it just now.
            return await self.records.get_file.remote(name)
        deadline = asyncio.get_running_loop().time() + 2 * _ADOPTION_HOLD_S
        while True:
            claim = await self.records.claim_file_adoption.remote(name, self.holder, timestamps.now(),
                                                                  _ADOPTION_HOLD_S)
            if claim["record"] is not None:
                return claim["record"]
            if claim["claimed"]:
                return await self._adopt_claimed(name)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise CompoxError(503, "service_unavailable", f"File {name!r} is still being adopted.",
                                  retryable=True)
            await self.records.wait_file_adoption.remote(name, min(left, 30.0))

    async def _adopt_claimed(self, name: str) -> dict | None:
        staged = upload_blob_key(name)
        spool_path = self.settings.spool_dir / f"{ids.new_id()}.adopt"
        adopted = None
        try:
            size = await self.blobs.size(staged)
            if size is None:
                return None
            if size > self.settings.max_upload_bytes:
                await self.blobs.delete(staged)
                raise too_large(self.settings.max_upload_bytes)
            self.settings.spool_dir.mkdir(parents=True, exist_ok=True)
            await self.blobs.get_file(staged, spool_path)
            problem = await asyncio.to_thread(hdf5_problem, spool_path, self.settings.max_item_bytes)
            if problem:
                await self.blobs.delete(staged)
                raise CompoxError(422, "invalid_hdf5_file", f"File {name!r} uploaded by URL is refused: {problem}",
                                  file_id=name)
            size = os.path.getsize(spool_path)  # what was validated, whatever was PUT meanwhile
            await self.blobs.put_file(file_blob_key(name), spool_path, move=True)
            adopted = await self.records.finish_file_adoption.remote(name, self.holder, size, timestamps.now())
        finally:
            if adopted is None:
                await self.records.release_file_adoption.remote(name, self.holder)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool_path)
        await self.blobs.delete(staged)  # served its purpose; a later PUT to an old URL is never read
        return adopted or await self.records.get_file.remote(name)

    async def adopt_missing(self, missing: list[str]) -> list[str]:
        """Adopt the staged uploads among the ``missing`` file ids (ones without a record); the
        ids still missing after that."""
        candidates = [name for name in dict.fromkeys(missing) if ids.is_valid_file_id(name)]
        if len(candidates) > _LOOKUPS_ONE_BY_ONE:
            staged = set(await self.blobs.list_names(UPLOADS_PREFIX))
            candidates = [name for name in candidates if name in staged]
        slots = asyncio.Semaphore(_ADOPTIONS_AT_ONCE)

        async def adopt(name: str) -> dict | None:
            async with slots:
                return await self.adopt(name)

        records = await asyncio.gather(*(adopt(name) for name in candidates))
        found = {name for name, record in zip(candidates, records) if record is not None}
        return [file_id for file_id in missing if file_id not in found]

    async def discard_upload(self, name: str) -> bool:
        """Delete the staged upload of ``name``; whether there was one. A delete takes this first, so
        a failure after it never leaves an upload that a later reference would adopt again."""
        staged = upload_blob_key(name)
        if await self.blobs.size(staged) is None:
            return False
        await self.blobs.delete(staged)
        return True
