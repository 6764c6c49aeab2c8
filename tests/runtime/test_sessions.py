"""SessionManager caps, on a real actor: count, items, real bytes, TTL; evictions say why."""

from __future__ import annotations

import time

import numpy as np
import pytest
import ray

from compox_ray.runtime.sessions import SessionManager, real_nbytes
from compox_ray.settings import Settings


@pytest.fixture
def sessions(serve_port, tmp_path):
    settings = Settings(data_dir=tmp_path, session_max_count=2, session_max_items=2,
                        session_max_bytes=4096, session_ttl_s=1.0)
    actor = SessionManager.remote(settings)
    yield actor
    ray.kill(actor)


def get(actor, token, key):
    return ray.get(actor.get.remote(token, key))


def test_items_round_trip_and_the_oldest_item_is_evicted_with_a_reason(sessions):
    ray.get(sessions.put.remote("t", "a", np.arange(4)))
    ray.get(sessions.put.remote("t", "b", "two"))
    found, value = get(sessions, "t", "a")
    assert found and list(value) == [0, 1, 2, 3]
    ray.get(sessions.put.remote("t", "c", 3))  # a third item: "b" is now the oldest used
    assert get(sessions, "t", "c") == (True, 3)
    found, why = get(sessions, "t", "b")
    assert not found and "evicted" in why and "at most 2 items" in why
    assert get(sessions, "t", "never")[1].startswith("session item 'never' was never stored")


def test_bytes_are_counted_for_real(sessions):
    assert real_nbytes(np.zeros(1000, np.float32)) == 4000
    ray.get(sessions.put.remote("t", "big", np.zeros(1000, np.float32)))
    ray.get(sessions.put.remote("t", "more", np.zeros(200, np.float32)))  # 4000 + 800 > 4096
    found, why = get(sessions, "t", "big")
    assert not found and "4096 bytes" in why
    with pytest.raises(ValueError, match="more than the 4096"):
        ray.get(sessions.put.remote("t", "huge", np.zeros(2000, np.float32)))


def test_the_least_recently_used_other_session_goes_first(sessions):
    ray.get(sessions.put.remote("one", "k", 1))
    ray.get(sessions.put.remote("two", "k", 2))
    get(sessions, "one", "k")  # "one" used last: "two" is the one to go
    ray.get(sessions.put.remote("three", "k", 3))
    assert get(sessions, "one", "k") == (True, 1)
    found, why = get(sessions, "two", "k")
    assert not found and "at most 2 sessions" in why


def test_sessions_expire_after_their_ttl_from_last_use(sessions):
    ray.get(sessions.put.remote("idle", "k", 1))
    time.sleep(1.2)
    found, why = get(sessions, "idle", "k")
    assert not found and "unused" in why
