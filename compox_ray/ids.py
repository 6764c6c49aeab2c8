"""Record ids: random uuid4 (Compox's uuid1 leaks the time and the MAC address)."""

import re
import uuid

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_id() -> str:
    return str(uuid.uuid4())


def is_valid_id(value: str) -> bool:
    """Ids are matched before any lookup, so a path-like or huge string never reaches a store."""
    return len(value) == 36 and _UUID.match(value) is not None
