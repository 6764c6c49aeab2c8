"""Times on the wire: ISO 8601 in UTC with the offset; in the records: epoch seconds."""

import time
from datetime import datetime, timezone


def now() -> float:
    return time.time()


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()
