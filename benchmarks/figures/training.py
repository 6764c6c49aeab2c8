"""Training as a client sees it: sample -> train -> checkpoint, then N trainings at once.

The trainer package runs 10 steps that each do a little numpy work and wait 0.5 s, as a step
waiting on a GPU would (5 s a training: long enough that starting a worker process does not hide
whether trainings overlap). One training end to end includes creating its sample and reading its
checkpoint record. N trainings at once (each its own sample) are posted together; the makespan is
set against N times the single training (one after another, which is how Compox schedules them),
and the intervals the training code itself ran (``began``/``ended`` in each record's state, wall
clock) give how many actually ran at the same moment.

The goal for four trainings at 0.25 GPU each: on a real GPU, a makespan of at most 0.4 of one after
another; on a machine without one (Ray's logical GPU, the CPU doing the work) all four must run
at the same moment, which is what the scheduling alone can prove there.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from benchmarks.client import require_completed
from benchmarks.datasets import image_bytes
from benchmarks.figures import Context, Figure, Target, Workload

TRAINING_ROUTES = ("POST /api/v0/deploy/local", "POST /api/v0/sample", "POST /api/v0/train-algorithm",
                   "GET /api/v0/training/{id}", "GET /api/v0/checkpoint/{id}")


def _sample(target: Target, seed: int) -> str:
    rng = np.random.default_rng(seed)
    file_ids = [target.client.upload_bytes(image_bytes(rng.random((32, 32), dtype=np.float32))) for _ in range(2)]
    return target.client.create_sample([{"input": file_ids}], tags=["benchmark"])


def _train(target: Target, algorithm_id: str, sample_id: str) -> dict:
    training_id = target.client.train(algorithm_id, [sample_id])
    return require_completed(target.client.wait_training(training_id, poll_s=0.02), "training")


def figures(context: Context) -> list[Figure]:
    real_gpu = _has_cuda()
    rows = [Figure("training: sample -> train -> checkpoint", "s", lower_is_better=True)]
    for count in context.training_counts:
        four = count == 4
        rows.append(Figure(f"{count} trainings at once: makespan", "s", True))
        rows.append(Figure(f"{count} trainings at once: makespan / one after another", "x", True,
                           goal_ratio=0.4 if four and real_gpu else None))
        rows.append(Figure(f"{count} trainings at once: most running together", "trainings", False,
                           goal_min=4 if four and not real_gpu else None))
    return rows


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def run(target: Target, context: Context) -> dict[str, float]:
    target.client.require(*TRAINING_ROUTES)
    algorithm_id = target.algorithm(context.packages["trainer"])
    start = time.perf_counter()
    record = _train(target, algorithm_id, _sample(target, 0))
    checkpoint = target.client.checkpoint(record["output_checkpoint_ids"][-1])
    single_s = time.perf_counter() - start
    if checkpoint.get("training_id") != record["training_id"]:
        raise RuntimeError(f"checkpoint {checkpoint} does not name training {record['training_id']}")
    results = {"training: sample -> train -> checkpoint": single_s}
    one_training_s = _training_only(target, algorithm_id)
    for count in context.training_counts:
        sample_ids = [_sample(target, seed) for seed in range(1, count + 1)]
        start = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            training_ids = list(pool.map(lambda sample_id: target.client.train(algorithm_id, [sample_id]),
                                         sample_ids))
        records = [require_completed(target.client.wait_training(training_id, poll_s=0.02), "training")
                   for training_id in training_ids]
        makespan_s = time.perf_counter() - start
        results[f"{count} trainings at once: makespan"] = makespan_s
        results[f"{count} trainings at once: makespan / one after another"] = makespan_s / (count * one_training_s)
        results[f"{count} trainings at once: most running together"] = _most_overlapping(records)
    return results


def _training_only(target: Target, algorithm_id: str) -> float:
    """One training on a ready sample: the unit of "one after another"."""
    sample_id = _sample(target, 100)
    start = time.perf_counter()
    _train(target, algorithm_id, sample_id)
    return time.perf_counter() - start


def _most_overlapping(records: list[dict]) -> int:
    events = []
    for record in records:
        state = record.get("state") or {}
        events.append((float(state["began"]), 1))
        events.append((float(state["ended"]), -1))
    running = most = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        running += change
        most = max(most, running)
    return most


WORKLOADS = [Workload("training", run, figures)]
