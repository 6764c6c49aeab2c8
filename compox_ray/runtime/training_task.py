"""One training as one Ray task (``max_retries=0``: a silent rerun would duplicate checkpoints).

The task takes the training PENDING -> STARTED (or does nothing if it was stopped meanwhile), loads
the algorithm on the device its resources give it, runs ``train`` and writes the terminal status
itself: COMPLETED only if at least one checkpoint was saved, else FAILED with the reason.
On a GPU it caps its memory to its share: fractional ``num_gpus`` is a scheduling hint, not
isolation.
"""

from __future__ import annotations

import time

import ray

from compox_ray import metrics
from compox_ray.algorithms.loader import load_algorithm
from compox_ray.runners.context import RunStopped
from compox_ray.runtime.run_context import TrainingContext
from compox_ray.runtime.runner_deployment import failure_message
from compox_ray.runtime.sessions import SessionManager
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.blobs import open_blob_store
from compox_ray.storage.records_actor import RecordStore


def training_device(gpu_share: float) -> tuple[str, str]:
    """(device for the algorithm, where it runs for the log)."""
    node = ray.util.get_node_ip_address()
    gpu_ids = ray.get_gpu_ids()
    if gpu_ids:
        import torch

        if torch.cuda.is_available():
            torch.cuda.set_per_process_memory_fraction(min(1.0, max(gpu_share, 0.01)), 0)
            return "cuda", f"cuda:{gpu_ids[0]}@{node} ({gpu_share:g} of it)"
    return "cpu", f"cpu@{node}"


@ray.remote(max_retries=0)
def run_training(settings: Settings, training_id: str, lease_owner: str, gpu_share: float) -> str:
    records = singleton(RecordStore, settings, "records")
    record = ray.get(records.get_training.remote(training_id))
    device, where = training_device(gpu_share)
    if record is None or not ray.get(records.start_training.remote(training_id, lease_owner, settings.lease_s, where)):
        return "skipped"
    context = loaded = None
    started = time.monotonic()
    try:
        loaded = load_algorithm(settings, record["algorithm_id"], record["algorithm_minor_version"],
                                record["checkpoint_id"], device)
        context = TrainingContext(record=record, asset_paths=set(loaded.asset_paths), device=device,
                                  records=records, sessions=singleton(SessionManager, settings, "sessions"),
                                  blobs=open_blob_store(settings), flush_s=settings.progress_flush_s,
                                  max_item_bytes=settings.max_item_bytes)
        loaded.train(context, record["training_data"])
        context.flush()
        if not context.checkpoint_ids:
            status, message, level = "FAILED", "The training ended without saving a checkpoint.", "ERROR"
        else:
            status, message, level = "COMPLETED", f"Completed with {len(context.checkpoint_ids)} checkpoint(s).", "INFO"
    except RunStopped:
        status, message, level = "STOPPED", "Stopped at the client's request.", "INFO"
    except Exception as error:
        status, message, level = "FAILED", failure_message(error), "ERROR"
    finally:
        if context is not None:
            context.close()
    if context is not None:
        context.flush()
    ray.get(records.finish_training.remote(training_id, status, message, level))
    algorithm = loaded.algorithm_name if loaded is not None else record["algorithm_id"]
    metrics.observe_run_time("training", algorithm, status, time.monotonic() - started)
    return status
