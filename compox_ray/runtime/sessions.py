"""SessionManager: one detached actor pinned to the head node (num_cpus=0).

Owns: every session cache (token -> items), so the same token reaches the same cache from any
replica on any node. Holds CPU copies, pickled by the run context (the runtime moves tensors to the
CPU first), so it never imports an algorithm's classes; sizes are the items' real bytes.
Caps (Compox's defaults, configurable): ``session_max_count`` sessions, ``session_max_items``
items and ``session_max_bytes`` real bytes per session, ``session_ttl_s`` from last use. Using a
session never evicts it; the least recently used other session goes first. A key that was evicted
answers with the reason, so the algorithm's KeyError says why.
Called by: run contexts on Runner replicas and in training tasks.
On failure: Ray restarts it empty; a token it no longer knows starts an empty session (as Compox
does after a restart), and algorithms must treat sessions as a cache.
"""

from __future__ import annotations

import pickle
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import ray

from compox_ray.settings import Settings

_REMEMBERED_REASONS = 1000


def real_nbytes(value: Any) -> int:
    """numpy arrays and torch tensors by their buffers; anything else by its pickled size."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    return len(pickle.dumps(value, protocol=5))


@dataclass
class _Session:
    items: OrderedDict = field(default_factory=OrderedDict)  # key -> (value, nbytes), oldest first
    nbytes: int = 0
    last_used: float = field(default_factory=time.monotonic)
    evicted: dict = field(default_factory=dict)  # key -> reason


@ray.remote(num_cpus=0, max_restarts=-1, max_concurrency=64)
class SessionManager:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.sessions: OrderedDict[str, _Session] = OrderedDict()  # least recently used first
        self.gone: OrderedDict[str, str] = OrderedDict()  # token -> why its session went

    def _forget(self, token: str, reason: str) -> None:
        self.sessions.pop(token, None)
        self.gone[token] = reason
        while len(self.gone) > _REMEMBERED_REASONS:
            self.gone.popitem(last=False)

    def _expire(self) -> None:
        now = time.monotonic()
        for token, session in list(self.sessions.items()):
            if now - session.last_used > self.settings.session_ttl_s:
                self._forget(token, f"it was unused for more than {self.settings.session_ttl_s:g} s")

    def _session(self, token: str) -> _Session:
        """The token's session, created empty if unknown; keeps the count cap."""
        self._expire()
        session = self.sessions.get(token)
        if session is None:
            while len(self.sessions) >= self.settings.session_max_count:
                oldest = next(iter(self.sessions))
                self._forget(oldest, f"the server keeps at most {self.settings.session_max_count} sessions "
                                     "and it was the least recently used")
            session = self.sessions[token] = _Session()
        session.last_used = time.monotonic()
        self.sessions.move_to_end(token)
        return session

    def get(self, token: str, key: str) -> tuple[bool, Any]:
        """(True, value), or (False, why the key is not there)."""
        self._expire()
        known = token in self.sessions
        session = self._session(token)
        if key in session.items:
            session.items.move_to_end(key)
            return True, session.items[key][0]
        if key in session.evicted:
            return False, f"session item {key!r} was evicted: {session.evicted[key]}"
        if not known and token in self.gone:
            return False, f"session {token} was dropped ({self.gone[token]}); it starts empty again"
        return False, f"session item {key!r} was never stored in session {token}"

    def put(self, token: str, key: str, value: Any, nbytes: int | None = None) -> None:
        """``nbytes``: the item's real size where ``value`` is its pickled form."""
        nbytes = real_nbytes(value) if nbytes is None else nbytes
        limit = self.settings.session_max_bytes
        if nbytes > limit:
            raise ValueError(f"session item {key!r} has {nbytes} bytes, more than the {limit} a session may hold")
        session = self._session(token)
        self._drop(session, key, None)
        while session.items and (len(session.items) >= self.settings.session_max_items
                                 or session.nbytes + nbytes > limit):
            oldest = next(iter(session.items))
            why = (f"the session holds at most {self.settings.session_max_items} items"
                   if len(session.items) >= self.settings.session_max_items
                   else f"the session holds at most {limit} bytes")
            self._drop(session, oldest, f"{why} and it was the oldest")
        session.items[key] = (value, nbytes)
        session.nbytes += nbytes
        session.evicted.pop(key, None)

    def remove(self, token: str, key: str) -> bool:
        session = self._session(token)
        present = key in session.items
        self._drop(session, key, None)
        session.evicted.pop(key, None)
        return present

    @staticmethod
    def _drop(session: _Session, key: str, reason: str | None) -> None:
        if key in session.items:
            _, nbytes = session.items.pop(key)
            session.nbytes -= nbytes
            if reason:
                session.evicted[key] = reason
                while len(session.evicted) > _REMEMBERED_REASONS:
                    session.evicted.pop(next(iter(session.evicted)))

    def describe(self, token: str) -> dict | None:
        session = self.sessions.get(token)
        if session is None:
            return None
        return {"keys": list(session.items), "nbytes": session.nbytes}
