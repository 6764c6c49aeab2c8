"""HTTP byte ranges (RFC 9110 section 14): ``Range: bytes=first-last``, ``bytes=first-`` and
``bytes=-suffix``, one range per request (what a viewer resuming a download sends).

A header that does not parse, or asks for several ranges, is ignored: the whole file is answered,
as the RFC allows. One that parses but lies past the end of the file is unsatisfiable (416).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# At most 19 digits: positions beyond 2^63 are no file's, and SQLite and seek() take int64.
_SINGLE_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")


@dataclass(frozen=True)
class ByteRange:
    """What the client asked for: ``first``..``last`` inclusive (``last`` None: to the end), or the
    last ``suffix`` bytes."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def resolve(self, size: int) -> tuple[int, int] | None:
        """The inclusive (start, end) within a file of ``size`` bytes; None if unsatisfiable."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                return None
            return max(0, size - self.suffix), size - 1
        if self.first >= size:
            return None
        return self.first, size - 1 if self.last is None else min(self.last, size - 1)


def parse_range(header: str | None) -> ByteRange | None:
    """The requested range, or None where the header is absent or is to be ignored."""
    match = _SINGLE_RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        return ByteRange(suffix=int(last)) if last else None
    if last and int(last) < int(first):
        return None  # syntactically invalid: ignored
    return ByteRange(first=int(first), last=int(last) if last else None)
