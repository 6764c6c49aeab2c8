"""Item files between the server and algorithm code: fetch (read + validate) and post (validate + store)."""

from __future__ import annotations

from collections.abc import Iterable

from compox_ray.hdf5_validation import InvalidHdf5File
from compox_ray.runners.context import current_context
from compox_ray.runners.hdf5_items import item_bytes, read_item, validate_item
from compox_ray.runners.io_schemas import DataSchema
from compox_ray.runners.item_threads import map_items


def fetch_items(file_ids: Iterable[str], schema: type[DataSchema], keys: tuple[str, ...] = (),
                parallel: bool = False) -> list[dict]:
    """Item files as dicts validated by ``schema``; with ``keys``, only those datasets are read."""
    context = current_context()

    def fetch_one(file_id: str) -> dict:
        try:
            values = read_item(context.read_file(file_id), keys, max_item_bytes=context.max_item_bytes)
        except InvalidHdf5File as error:
            raise InvalidHdf5File(f"Input file {file_id} is refused: {error}") from None
        return validate_item(schema, values)

    return map_items(fetch_one, list(file_ids), parallel)


def post_items(items: Iterable[dict], schema: type[DataSchema], parallel: bool = False) -> list[str]:
    """Validate each dict with ``schema``, store it as an item file; answers the new file ids."""
    context = current_context()

    def post_one(values: dict) -> str:
        return context.write_file(item_bytes(validate_item(schema, values)))

    return map_items(post_one, list(items), parallel)
