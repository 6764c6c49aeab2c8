"""The unit cost under every records call and hand-off: one async Ray actor awaiting a no-op
method of another, on a fresh local Ray instance (no Serve, no SQLite).

    python -m benchmarks.actor_round_trip          # median and p90 of 300 calls, three times
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

CALLS = 300


@ray.remote(num_cpus=0)
class Callee:
    async def noop(self) -> None:
        return None


@ray.remote(num_cpus=0)
class Caller:
    def __init__(self, callee):
        self.callee = callee

    async def round_trips(self, count: int) -> list[float]:
        seconds = []
        for _ in range(count):
            start = time.perf_counter()
            await self.callee.noop.remote()
            seconds.append(time.perf_counter() - start)
        return seconds


def main() -> None:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        caller = Caller.remote(Callee.remote())
        ray.get(caller.round_trips.remote(50))  # warm-up: workers started, connections open
        for _ in range(3):
            seconds = sorted(ray.get(caller.round_trips.remote(CALLS)))
            print(f"actor -> actor no-op call: median {statistics.median(seconds) * 1000:.2f} ms, "
                  f"p90 {seconds[int(CALLS * 0.9)] * 1000:.2f} ms")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
