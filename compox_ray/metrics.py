"""Operator metrics in Prometheus format, through Ray's metrics (``ray.util.metrics``).

Every process that records one (Api and Runner replicas, the RecordStore, the Dispatcher, a
training task) reports it to its node's Ray metrics agent, which exports them at the node's
metrics export port (``/metrics``) beside Ray's own and Serve's (``ray_serve_*``). Ray prefixes
the names with ``ray_``: ``compox_runs_finished_total`` is scraped as
``ray_compox_runs_finished_total``. A metric object belongs to the process that made it, so each
is made on first use in each process; outside a Ray worker recording does nothing.
"""

from __future__ import annotations

from functools import cache

from ray.util.metrics import Counter, Gauge, Histogram

RUN_KINDS = ("execution", "benchmark", "training")
RUN_STATUSES = ("PENDING", "STARTED", "RUNNING", "COMPLETED", "FAILED", "STOPPED")
_SECONDS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 7200]
_RECORD_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5]


@cache
def _runs() -> Gauge:
    return Gauge("compox_runs", description="Execution, benchmark and training records by status.",
                 tag_keys=("kind", "status"))


@cache
def _runs_finished() -> Counter:
    return Counter("compox_runs_finished_total", description="Runs that reached a terminal status.",
                   tag_keys=("kind", "status"))


@cache
def _queue_length() -> Gauge:
    return Gauge("compox_queue_length", description="PENDING executions and benchmarks per device class.",
                 tag_keys=("device_class",))


@cache
def _queue_wait() -> Histogram:
    return Histogram("compox_queue_wait_seconds", description="From submission to STARTED.",
                     boundaries=_SECONDS, tag_keys=("kind",))


@cache
def _run_time() -> Histogram:
    return Histogram("compox_run_seconds", description="From STARTED to the end of a run, per algorithm.",
                     boundaries=_SECONDS, tag_keys=("kind", "algorithm", "status"))


@cache
def _transfer_bytes() -> Counter:
    return Counter("compox_transfer_bytes_total", description="Item file bytes received and sent by the API.",
                   tag_keys=("direction",))


@cache
def _warm_models() -> Counter:
    return Counter("compox_warm_model_total", description="Runs that found their algorithm loaded in the "
                   "replica (hit) or had to load it (miss).", tag_keys=("result",))


@cache
def _records_latency() -> Histogram:
    return Histogram("compox_records_seconds", description="SQLite record reads and write transactions.",
                     boundaries=_RECORD_SECONDS, tag_keys=("operation",))


def set_runs_by_status(counts: dict[tuple[str, str], int]) -> None:
    """``counts`` {(kind, status): n}; combinations it lacks are set to 0."""
    gauge = _runs()
    for kind in RUN_KINDS:
        for status in RUN_STATUSES:
            gauge.set(counts.get((kind, status), 0), tags={"kind": kind, "status": status})


def count_finished_run(kind: str, status: str) -> None:
    _runs_finished().inc(1, tags={"kind": kind, "status": status})


def set_queue_length(lengths: dict[str, int]) -> None:
    """{device class: PENDING count}; "cpu" and "gpu" are always set."""
    gauge = _queue_length()
    for device_class in {"cpu", "gpu", *lengths}:
        gauge.set(lengths.get(device_class, 0), tags={"device_class": device_class})


def observe_queue_wait(kind: str, seconds: float) -> None:
    _queue_wait().observe(max(0.0, seconds), tags={"kind": kind})


def observe_run_time(kind: str, algorithm: str, status: str, seconds: float) -> None:
    _run_time().observe(max(0.0, seconds), tags={"kind": kind, "algorithm": algorithm, "status": status})


def count_transfer(direction: str, nbytes: int) -> None:
    """``direction``: "upload" or "download"."""
    if nbytes > 0:
        _transfer_bytes().inc(nbytes, tags={"direction": direction})


def count_warm_model(hit: bool) -> None:
    _warm_models().inc(1, tags={"result": "hit" if hit else "miss"})


def observe_records_latency(operation: str, seconds: float) -> None:
    """``operation``: "read" or "write"."""
    _records_latency().observe(seconds, tags={"operation": operation})
