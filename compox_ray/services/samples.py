"""Training samples: named lists of file ids, tagged; a sample pins its files."""

from __future__ import annotations

from compox_ray import ids, timestamps
from compox_ray.errors import CompoxError, not_found
from compox_ray.schemas import IncomingSampleRequest, SampleRecord
from compox_ray.tags import normalise_tags


def sample_record(row: dict) -> SampleRecord:
    return SampleRecord(sample_id=row["sample_id"], files=row["files"], tags=row["tags"],
                        time_created=timestamps.iso(row["time_created"]))


class SampleService:
    def __init__(self, records, transfers=None):
        self.records = records
        self.transfers = transfers  # ObjectTransferService: adopts files uploaded by v1 URL

    async def create(self, request: IncomingSampleRequest) -> str:
        if not request.files:
            raise CompoxError(422, "invalid_sample", "A sample needs at least one entry in `files`.")
        key_sets = {frozenset(entry) for entry in request.files}
        if len(key_sets) > 1:
            raise CompoxError(422, "invalid_sample", "Every entry of `files` must have the same keys.",
                              key_sets=sorted(sorted(keys) for keys in key_sets))
        if not next(iter(key_sets)):
            raise CompoxError(422, "invalid_sample", "The entries of `files` name no keys.")
        sample_id = ids.new_id()
        missing = await self.records.create_sample.remote(sample_id, request.files, normalise_tags(request.tags),
                                                          timestamps.now())
        if missing and self.transfers is not None:
            # Names uploaded by v1 URL get their records on first use; nothing was written yet.
            missing = await self.transfers.adopt_missing(missing)
            if not missing:
                missing = await self.records.create_sample.remote(sample_id, request.files,
                                                                  normalise_tags(request.tags), timestamps.now())
        if missing:
            raise not_found("sample_input_files_not_found", f"{len(missing)} file(s) of the sample were not found.",
                            missing_file_ids=missing)
        return sample_id

    async def get(self, sample_id: str) -> dict:
        row = await self.records.get_sample.remote(sample_id) if ids.is_valid_id(sample_id) else None
        if row is None:
            raise not_found("sample_not_found", f"Sample {sample_id[:64]!r} was not found.")
        return row

    async def list(self, positive_tags: list[str], negative_tags: list[str]) -> list[dict]:
        return await self.records.list_samples.remote(normalise_tags(positive_tags), normalise_tags(negative_tags))

    async def delete(self, sample_id: str) -> None:
        await self.get(sample_id)
        if not await self.records.delete_sample.remote(sample_id, timestamps.now()):
            raise not_found("sample_not_found", f"Sample {sample_id!r} was not found.")
