"""Wake coroutines waiting for a record to change (long-poll for server-sent events, a runner
waiting for the record of the execution it was handed)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator


class ChangeNotifier:
    def __init__(self):
        self._events: dict[str, asyncio.Event] = {}
        self._listeners: Counter[str] = Counter()

    def notify(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    @contextlib.contextmanager
    def listening(self, key: str) -> Iterator[asyncio.Event]:
        """An event set by the next ``notify(key)``. Take it before reading what may change, then
        wait on it inside the block: a change between the read and the wait is not missed. The
        key's event goes with its last listener, whether or not a change came."""
        self._listeners[key] += 1
        try:
            yield self._events.setdefault(key, asyncio.Event())
        finally:
            self._listeners[key] -= 1
            if not self._listeners[key]:
                del self._listeners[key]
                self._events.pop(key, None)

    @staticmethod
    async def changed(event: asyncio.Event, timeout_s: float) -> bool:
        """True if ``event`` (from ``listening``) was set within ``timeout_s``."""
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False

    def __len__(self) -> int:
        """Keys with an event kept for their listeners."""
        return len(self._events)
