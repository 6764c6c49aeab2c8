"""Record ids: random uuid4 (Compox's uuid1 leaks the time and the MAC address)."""

import re
import uuid

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# A file's id is a uuid4 we chose, or a name a client chose for a v1 upload (Compox's object names):
# letters, digits, '.', '_', '-', at most 128, no leading dot. Never a path, and every uuid is one.
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def new_id() -> str:
    return str(uuid.uuid4())


def is_valid_id(value: str) -> bool:
    """Ids are matched before any lookup, so a path-like or huge string never reaches a store."""
    return len(value) == 36 and _UUID.match(value) is not None


def is_valid_file_id(value: str) -> bool:
    """A uuid or a client-chosen object name (see _FILE_NAME), matched before any lookup."""
    return len(value) <= 128 and _FILE_NAME.fullmatch(value) is not None
