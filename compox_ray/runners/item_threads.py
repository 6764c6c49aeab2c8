"""Map a function over items, optionally in threads that still see the active run.

Worker threads start with an empty context, so each call runs in a copy of the caller's context:
``current_context()`` and the runner's per-run attributes stay visible inside it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_THREADS = 8


def map_items(function: Callable[[Item], Result], items: Sequence[Item], parallel: bool) -> list[Result]:
    if not parallel or len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(items))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, function, item) for item in items]
        return [future.result() for future in futures]
