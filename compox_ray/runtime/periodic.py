"""The maintenance loops of the singleton actors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def every(interval_s: float, action: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``action`` now and then every ``interval_s``, forever; a failed round is logged and the
    next one tries again."""
    while True:
        try:
            await action()
        except Exception:
            logger.exception("%s failed", what)
        await asyncio.sleep(interval_s)
