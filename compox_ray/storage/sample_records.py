"""Sample records (a part of the RecordStore actor). A sample pins its files: they never expire
while it exists and cannot be deleted (409); deleting the sample releases them to expiry, whose
clock starts again then."""

from __future__ import annotations

import json



def _holder(sample_id: str) -> str:
    return f"sample:{sample_id}"


def tag_filter(table: str, key: str, positive: list[str], negative: list[str]) -> tuple[str, list]:
    """SQL condition: every positive tag present, no negative one (tags already normalised, so
    distinct). Each list is one JSON parameter: the statement stays the same size however many
    tags a query names (one clause per tag grew past SQLite's expression-tree limit)."""
    clauses, params = [], []
    if positive:
        clauses.append(f"(SELECT COUNT(*) FROM {table} t WHERE t.{key} = r.{key} "
                       "AND t.tag IN (SELECT value FROM json_each(?))) = ?")
        params += [json.dumps(positive), len(positive)]
    if negative:
        clauses.append(f"NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = r.{key} "
                       "AND t.tag IN (SELECT value FROM json_each(?)))")
        params.append(json.dumps(negative))
    return " AND ".join(clauses) or "1", params


class SampleRecords:
    async def create_sample(self, sample_id: str, files: list[dict[str, list[str]]], tags: list[str],
                            now: float) -> list[str]:
        """Insert the sample and pin its files; or nothing and the missing file ids."""
        file_ids = [file_id for entry in files for ids in entry.values() for file_id in ids]
        async with self.db.write() as conn:
            missing = await self.pin_files_in(conn, _holder(sample_id), file_ids)
            if missing:
                return missing
            await conn.execute("INSERT INTO samples (sample_id, files, time_created) VALUES (?, ?, ?)",
                               (sample_id, json.dumps(files), now))
            await conn.executemany("INSERT INTO sample_tags (sample_id, tag, position) VALUES (?, ?, ?)",
                                   [(sample_id, tag, i) for i, tag in enumerate(tags)])
        return []

    async def _samples(self, where: str, params: list) -> list[dict]:
        rows = await self.db.fetch_all(f"SELECT * FROM samples r WHERE {where} ORDER BY time_created, sample_id",
                                       params)
        for row in rows:
            row["files"] = json.loads(row["files"])
            tags = await self.db.fetch_all("SELECT tag FROM sample_tags WHERE sample_id = ? ORDER BY position",
                                           (row["sample_id"],))
            row["tags"] = [tag["tag"] for tag in tags]
        return rows

    async def get_sample(self, sample_id: str) -> dict | None:
        rows = await self._samples("r.sample_id = ?", [sample_id])
        return rows[0] if rows else None

    async def get_samples(self, sample_ids: list[str]) -> list[dict]:
        # One JSON parameter, not one per id: any number of ids stays under SQLite's variable limit.
        return await self._samples("r.sample_id IN (SELECT value FROM json_each(?))", [json.dumps(list(sample_ids))])

    async def list_samples(self, positive: list[str], negative: list[str]) -> list[dict]:
        where, params = tag_filter("sample_tags", "sample_id", positive, negative)
        return await self._samples(where, params)

    async def delete_sample(self, sample_id: str, now: float) -> bool:
        async with self.db.write() as conn:
            cursor = await conn.execute("DELETE FROM samples WHERE sample_id = ?", (sample_id,))
            if cursor.rowcount == 0:
                return False
            await self.release_pins_in(conn, _holder(sample_id), now)
        return True

    async def missing_sample_files(self, sample_ids: list[str]) -> list[str]:
        """Files the samples point at that have no record (pinned ones normally cannot go)."""
        samples = await self.get_samples(sample_ids)
        file_ids = [f for sample in samples for entry in sample["files"] for ids in entry.values() for f in ids]
        return await self.missing_files(file_ids)
