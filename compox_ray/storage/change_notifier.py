"""Wake coroutines waiting for a record to change (long-poll for server-sent events)."""

from __future__ import annotations

import asyncio


class ChangeNotifier:
    def __init__(self):
        self._events: dict[str, asyncio.Event] = {}

    def notify(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    async def wait(self, key: str, timeout_s: float) -> bool:
        """True if ``key`` changed within ``timeout_s``."""
        event = self._events.setdefault(key, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False
