"""Reliability under load, as a client sees it:

- event streams: ``GET /api/v0/health`` latency (median and p99 of 50, one at a time) with no
  stream open, then with 500 event streams open on one running execution (a package that runs
  until stopped); Compox has no event streams, so it reads "n/a";
- load: 32 clients for 60 s (20 s with --quick), each uploading a small slice, executing the
  pass-through package on it, polling the record to its end and downloading the output with a
  byte check (benchmarks/load.py): completed cycles per second and the cycle's p50 / p99. Polling
  on both servers, so the ratio compares like with like.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import httpx
import numpy as np

from benchmarks.datasets import image_bytes
from benchmarks.figures import Context, Figure, Target, Workload
from benchmarks.load import run_load

STREAMS = 500
HEALTH_SAMPLES = 50
LOAD_CLIENTS = 32


def _health_ms(url: str) -> list[float]:
    times = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for _ in range(HEALTH_SAMPLES):
            start = time.perf_counter()
            http.get("/api/v0/health").raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return times


def _p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[98]


class _OpenStreams:
    """``STREAMS`` event streams of one run, in a thread of their own; ``opened`` once each has had
    its first event, ``ended`` once all have ended."""

    def __init__(self, url: str, execution_id: str):
        self.opened, self.ended = threading.Event(), threading.Event()
        self.errors: list[str] = []
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(url, execution_id),), daemon=True)
        self._thread.start()

    async def _run(self, url: str, execution_id: str) -> None:
        first = 0
        limits = httpx.Limits(max_connections=STREAMS + 10, max_keepalive_connections=STREAMS + 10)
        async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(300, connect=60), limits=limits) as http:
            async def one() -> None:
                nonlocal first
                seen = False
                async with http.stream("GET", f"/api/v0/executions/{execution_id}/events") as stream:
                    if stream.status_code != 200:
                        self.errors.append(f"{stream.status_code}: {(await stream.aread())[:200]!r}")
                    async for line in stream.aiter_lines():
                        if line.startswith("data: ") and not seen:
                            seen, first = True, first + 1
                            if first == STREAMS:
                                self.opened.set()
            try:
                await asyncio.gather(*(one() for _ in range(STREAMS)))
            except Exception as error:
                self.errors.append(repr(error))
            finally:
                self.opened.set()
                self.ended.set()


def stream_figures(context: Context) -> list[Figure]:
    return [Figure(f"health with {count}: {which} of {HEALTH_SAMPLES}", "ms", True)
            for count in ("no event stream open", f"{STREAMS} event streams open") for which in ("median", "p99")]


def streams(target: Target, context: Context) -> dict[str, float]:
    target.client.require("GET /api/v0/health", "GET /api/v0/executions/{id}/events",
                          "POST /api/v0/executions/{id}/stop")
    algorithm_id = target.algorithm(context.packages["stepper"])
    idle = _health_ms(target.url)
    input_id = target.client.upload_bytes(image_bytes(np.zeros((8, 8), np.float32)))
    execution_id = target.client.execute(algorithm_id, [input_id], {"steps": 1_000_000, "delay_s": 2.0})
    open_streams = _OpenStreams(target.url, execution_id)
    try:
        if not open_streams.opened.wait(300) or open_streams.errors:
            raise RuntimeError(f"the streams did not open: {open_streams.errors[:3]}")
        loaded = _health_ms(target.url)
    finally:
        target.client.http.post(f"/api/v0/executions/{execution_id}/stop")
        open_streams.ended.wait(120)
    target.notes.append(f"event streams: {STREAMS} opened on one execution, all ended after its stop: "
                        f"{open_streams.ended.is_set() and not open_streams.errors}")
    values = [statistics.median(idle), _p99(idle), statistics.median(loaded), _p99(loaded)]
    return {figure.name: value for figure, value in zip(stream_figures(context), values)}


def load_seconds(context: Context) -> int:
    return 20 if context.quick else 60


def load_figures(context: Context) -> list[Figure]:
    label = f"{LOAD_CLIENTS} clients x {load_seconds(context)} s (upload, execute, poll, download)"
    return [Figure(f"{label}: cycles per second", "1/s", lower_is_better=False),
            Figure(f"{label}: cycle p50", "ms", True),
            Figure(f"{label}: cycle p99", "ms", True)]


def load(target: Target, context: Context) -> dict[str, float]:
    target.client.require("POST /api/v0/files", "POST /api/v0/execute-algorithm", "GET /api/v0/executions/{id}")
    algorithm_id = target.algorithm(context.packages["passthrough"])
    report = run_load(target.url, algorithm_id, LOAD_CLIENTS, load_seconds(context), follow="poll")
    target.notes.append(f"load: {report.summary()}")
    throughput, p50, p99 = load_figures(context)
    return {throughput.name: report.throughput, p50.name: report.percentile_ms(50), p99.name: report.percentile_ms(99)}


WORKLOADS = [Workload("event streams", streams, stream_figures),
             Workload("load", load, load_figures)]
