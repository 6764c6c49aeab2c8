"""Upload and download of one large HDF5 item file: MiB/s and the server's peak memory growth.

Per size: one untimed round trip that also checks the bytes come back unchanged, then
``repetitions`` timed uploads and downloads, each deleted afterwards so the store does not grow.
Memory is the peak growth of the summed PSS of the server's whole process tree (for compox_ray:
the proxy, the Api replicas, the actors and Ray's object store pages) while the transfer runs.
"""

from __future__ import annotations

import hashlib
import statistics
import time

from benchmarks.datasets import volume_file
from benchmarks.figures import Context, Figure, Target, Workload
from benchmarks.processes import ProcessTreeCpu, ProcessTreeMemory


def figures(context: Context) -> list[Figure]:
    rows = []
    for size in context.sizes_mib:
        rows += [Figure(f"upload {_size(size)}", "MiB/s", lower_is_better=False, goal_ratio=2),
                 Figure(f"download {_size(size)}", "MiB/s", lower_is_better=False, goal_ratio=2),
                 Figure(f"upload {_size(size)}: peak memory growth", "MiB", lower_is_better=True,
                        goal_max=512 if size >= 1024 else None),
                 Figure(f"download {_size(size)}: peak memory growth", "MiB", lower_is_better=True,
                        goal_max=512 if size >= 1024 else None)]
    return rows


def run(target: Target, context: Context) -> dict[str, float]:
    client = target.client
    results = {}
    for size in context.sizes_mib:
        path = context.work_dir / f"volume-{size}MiB.h5"
        if not path.exists():
            volume_file(path, size)
        nbytes = path.stat().st_size
        _check_round_trip(target, path, nbytes)
        up, down, up_growth, down_growth = [], [], [], []
        for _ in range(context.repetitions):
            with ProcessTreeMemory(target.root_pid) as memory, ProcessTreeCpu(target.root_pid) as up_cpu:
                start = time.perf_counter()
                file_id = client.upload_path(path)
                up.append(nbytes / 2**20 / (time.perf_counter() - start))
            up_growth.append(memory.growth_bytes / 2**20)
            with ProcessTreeMemory(target.root_pid) as memory, ProcessTreeCpu(target.root_pid) as down_cpu:
                start = time.perf_counter()
                received = client.download_count(file_id)
                down.append(nbytes / 2**20 / (time.perf_counter() - start))
            down_growth.append(memory.growth_bytes / 2**20)
            if received != nbytes:
                raise RuntimeError(f"download returned {received} of {nbytes} bytes")
            client.delete_file(file_id)
        label = _size(size)
        results |= {f"upload {label}": statistics.median(up), f"download {label}": statistics.median(down),
                    f"upload {label}: peak memory growth": max(up_growth),
                    f"download {label}: peak memory growth": max(down_growth)}
        target.notes.append(f"{label}: upload MiB/s {_list(up)}, download MiB/s {_list(down)}; server CPU in "
                            f"the last upload: {up_cpu.summary()}; in the last download: {down_cpu.summary()}")
    return results


def _check_round_trip(target: Target, path, nbytes: int) -> None:
    """Untimed: the bytes that come back are the bytes that went in (and caches are warm)."""
    file_id = target.client.upload_path(path)
    expected = hashlib.blake2b()
    with open(path, "rb") as source:
        while block := source.read(2**24):
            expected.update(block)
    received = hashlib.blake2b()
    size = 0
    with target.client.http.stream("GET", f"/api/v0/files/{file_id}") as response:
        response.raise_for_status()
        for chunk in response.iter_raw(2**20):
            received.update(chunk)
            size += len(chunk)
    target.client.delete_file(file_id)
    if size != nbytes or received.digest() != expected.digest():
        raise RuntimeError(f"{path.name}: the downloaded bytes differ from the uploaded ones")


def _size(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


def _list(values: list[float]) -> str:
    return "/".join(f"{v:.0f}" for v in values)


WORKLOADS = [Workload("files", run, figures)]
