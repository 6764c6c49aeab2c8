"""Optional ``limit``/``offset`` on every list endpoint. Without them a list answers the whole
JSON array, as Compox does; either way the number of matches goes in the ``X-Total-Count``
header (never in a wrapper object, which Compox clients would not parse)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Response

TOTAL_COUNT_HEADER = "X-Total-Count"
Item = TypeVar("Item")


@dataclass(frozen=True)
class Page:
    limit: int | None
    offset: int

    def slice(self, items: list[Item], response: Response) -> list[Item]:
        """This page of ``items`` (every match), with the total in the response's header."""
        response.headers[TOTAL_COUNT_HEADER] = str(len(items))
        return items[self.offset:None if self.limit is None else self.offset + self.limit]

    def answer(self, page: list[Item], total: int, response: Response) -> list[Item]:
        """A page the records already cut, with the total in the response's header."""
        response.headers[TOTAL_COUNT_HEADER] = str(total)
        return page


async def page_query(limit: Annotated[int | None, Query(ge=1, le=100_000, description="At most this many")] = None,
                     offset: Annotated[int, Query(ge=0, le=2**62, description="Skip this many first")] = 0) -> Page:
    return Page(limit, offset)


PageDep = Annotated[Page, Depends(page_query)]
