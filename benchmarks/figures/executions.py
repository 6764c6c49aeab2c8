"""Executions as a client sees them: POST, poll the record every 5 ms, download the outputs.

- trivial round trip: a pass-through Image2Image on one small slice, POST -> COMPLETED seen by the
  client; median and p90 of 20 (after one untimed first run, reported on its own);
- 20 at once: 20 such executions posted together, makespan until the last is seen COMPLETED;
- realistic job: the denoiser on a 256^3 float32 volume sent as 256 slices, end to end (upload the
  slices, execute, download the 256 outputs); and, once, the same job without a server: the client's
  calls against the bare server and the package run in-process, what no server can beat here;
- warm model: a package with 200 MB of weights, first and second execution, and how many times
  the weights were loaded (the package logs its count).
"""

from __future__ import annotations

import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import bare_server
from benchmarks.client import require_completed
from benchmarks.datasets import image_bytes, noisy_volume, read_image
from benchmarks.figures import Context, Figure, Target, Workload

EXECUTION_ROUTES = ("POST /api/v0/deploy/local", "POST /api/v0/execute-algorithm", "GET /api/v0/executions/{id}")
ROUND_TRIPS = 20


def _round_trip(target: Target, algorithm_id: str, input_ids: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    execution_id = target.client.execute(algorithm_id, input_ids)
    record = target.client.wait_execution(execution_id, poll_s=0.005)
    elapsed_s = time.perf_counter() - start
    return elapsed_s, require_completed(record, "execution")


def _small_input(target: Target) -> list[str]:
    if "small_input" not in target.deployed:
        image = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
        target.deployed["small_input"] = target.client.upload_bytes(image_bytes(image))
    return [target.deployed["small_input"]]


# -- trivial round trip --------------------------------------------------------------------------
def trivial_figures(context: Context) -> list[Figure]:
    return [Figure("trivial execution: first run after deploy", "ms", lower_is_better=True),
            Figure(f"trivial execution round trip, median of {ROUND_TRIPS}", "ms", True, goal_ratio=1 / 3),
            Figure(f"trivial execution round trip, p90 of {ROUND_TRIPS}", "ms", True, goal_ratio=1 / 3)]


def trivial(target: Target, context: Context) -> dict[str, float]:
    target.client.require(*EXECUTION_ROUTES)
    algorithm_id = target.algorithm(context.packages["passthrough"])
    inputs = _small_input(target)
    first_s, record = _round_trip(target, algorithm_id, inputs)
    if len(record["output_dataset_ids"]) != 1:
        raise RuntimeError(f"pass-through answered {record['output_dataset_ids']}")
    times = [_round_trip(target, algorithm_id, inputs)[0] * 1000 for _ in range(ROUND_TRIPS)]
    median = statistics.median(times)
    target.facts["trivial_median_ms"] = median
    return {"trivial execution: first run after deploy": first_s * 1000,
            f"trivial execution round trip, median of {ROUND_TRIPS}": median,
            f"trivial execution round trip, p90 of {ROUND_TRIPS}": statistics.quantiles(times, n=10)[-1]}


# -- 20 at once ----------------------------------------------------------------------------------
def concurrent_figures(context: Context) -> list[Figure]:
    return [Figure("20 trivial executions at once: makespan", "ms", True, goal_ratio=1 / 3)]


def concurrent(target: Target, context: Context) -> dict[str, float]:
    target.client.require(*EXECUTION_ROUTES)
    algorithm_id = target.algorithm(context.packages["passthrough"])
    inputs = _small_input(target)
    start = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        execution_ids = list(pool.map(lambda _: target.client.execute(algorithm_id, inputs), range(20)))
    records = target.client.wait_executions(execution_ids, poll_s=0.005)
    makespan_s = time.perf_counter() - start
    for record in records.values():
        require_completed(record, "execution")
    return {"20 trivial executions at once: makespan": makespan_s * 1000}


# -- realistic job -------------------------------------------------------------------------------
def realistic_figures(context: Context) -> list[Figure]:
    return [Figure(f"denoiser, {_edge(context)}^3 float32 as {_edge(context)} slices, end to end", "s",
                   True, goal_ratio=1 / 2)]


def _edge(context: Context) -> int:
    return 128 if context.quick else 256


def realistic(target: Target, context: Context) -> dict[str, float]:
    target.client.require(*EXECUTION_ROUTES)
    algorithm_id = target.algorithm(context.packages["denoiser"])
    edge = _edge(context)
    slices = [image_bytes(image) for image in noisy_volume(edge)]
    start = time.perf_counter()
    input_ids = [target.client.upload_bytes(data) for data in slices]
    uploaded = time.perf_counter()
    execution_id = target.client.execute(algorithm_id, input_ids)
    record = require_completed(target.client.wait_execution(execution_id, poll_s=0.005), "denoiser")
    executed = time.perf_counter()
    outputs = [read_image(target.client.download_bytes(file_id)) for file_id in record["output_dataset_ids"]]
    end = time.perf_counter()
    if len(outputs) != edge or outputs[0].shape != (edge, edge):
        raise RuntimeError(f"denoiser answered {len(outputs)} slices of {outputs[0].shape if outputs else None}")
    target.notes.append(f"denoiser ({context.packages['denoiser'].name}): upload {uploaded - start:.2f} s, "
                        f"execution {executed - uploaded:.2f} s, download {end - executed:.2f} s")
    for file_id in input_ids + record["output_dataset_ids"]:
        target.client.delete_file(file_id)
    return {realistic_figures(context)[0].name: end - start}


def realistic_without_a_server(context: Context, log_dir: Path) -> str:
    """The realistic job's floor, as a line for the notes: its client calls against the bare server,
    plus the package run in-process on local files (read the slices, denoise, write the outputs)."""
    from compox_ray.algorithms.loader import load_algorithm_from_folder
    from compox_ray.runners import LocalRunContext

    edge = _edge(context)
    volume = noisy_volume(edge)
    upload_s, download_s = bare_server.measure_slices([image_bytes(image) for image in volume], 2, log_dir)
    algorithm = load_algorithm_from_folder(context.packages["denoiser"])
    runs = []
    for attempt in range(2):
        with LocalRunContext(context.work_dir / f"denoiser-in-process-{attempt}",
                             parameters=algorithm.with_defaults({})) as local:
            input_ids = local.add_volume(volume)
            start = time.perf_counter()
            algorithm.execute(local, input_ids)
            runs.append(time.perf_counter() - start)
    algorithm.close()
    run_s = min(runs)
    return (f"denoiser without a server (best of 2: the client's calls against benchmarks/bare_server.py, the "
            f"package run in-process with LocalRunContext): upload {upload_s:.2f} s, run {run_s:.2f} s, "
            f"download {download_s:.2f} s; {upload_s + run_s + download_s:.2f} s in all, which no server "
            f"beats with this client here")


# -- warm model ----------------------------------------------------------------------------------
def warm_figures(context: Context) -> list[Figure]:
    return [Figure("200 MB model: first execution", "ms", True),
            Figure("200 MB model: second execution", "ms", True),
            Figure("200 MB model: weight loads after two executions", "loads", True),
            Figure("200 MB model: second execution / trivial round trip", "x", True)]


def warm(target: Target, context: Context) -> dict[str, float]:
    target.client.require(*EXECUTION_ROUTES)
    algorithm_id = target.algorithm(context.packages["warm_weights"])
    inputs = _small_input(target)
    first_s, _ = _round_trip(target, algorithm_id, inputs)
    second_s, record = _round_trip(target, algorithm_id, inputs)
    loads = [int(n) for n in re.findall(r"weights loaded (\d+) time", record.get("log") or "")]
    results = {"200 MB model: first execution": first_s * 1000, "200 MB model: second execution": second_s * 1000,
               "200 MB model: weight loads after two executions": loads[-1] if loads else float("nan")}
    if "trivial_median_ms" in target.facts:
        results["200 MB model: second execution / trivial round trip"] = \
            second_s * 1000 / target.facts["trivial_median_ms"]
    return results


WORKLOADS = [Workload("trivial round trip", trivial, trivial_figures),
             Workload("20 at once", concurrent, concurrent_figures),
             Workload("realistic job", realistic, realistic_figures),
             Workload("warm model", warm, warm_figures)]
