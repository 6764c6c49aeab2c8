"""Which Runner deployment an execution goes to, from the requested device and the cluster.

Compox's rule, kept for compatibility: a GPU request on a cluster without GPUs (or whose GPU
runners are turned off) runs on the CPU with a WARNING in the log, so a viewer that always sends
"gpu" keeps working on a CPU server; so does "mps", which no runner offers.
"""

from __future__ import annotations

import re

from compox_ray.errors import CompoxError

_DEVICE = re.compile(r"^(cpu|gpu|cuda|cuda:\d+|mps)$")


def device_kind(device: str) -> str:
    """"cpu", "gpu" or "mps": the names packages use in supported_devices."""
    return "gpu" if device.startswith(("cuda", "gpu")) else device


def gpu_runners_enabled(gpu_runners: bool | None, cluster_gpus: float) -> bool:
    """Whether the RunnerGpu deployment is deployed: as set, or where the cluster has GPUs."""
    return gpu_runners if gpu_runners is not None else cluster_gpus > 0


def resolve_device_class(requested: str | None, supported: list[str], default: str | None,
                         cluster_gpus: float) -> tuple[str, list[str]]:
    """("cpu" | "gpu", warnings) for an execution; 422 for a device the algorithm cannot use.
    ``cluster_gpus``: the GPUs the GPU runners can use (0 where none are deployed)."""
    device = (requested or default or "cpu").strip().lower()
    if not _DEVICE.match(device):
        raise CompoxError(422, "invalid_execution_device",
                          f"Unknown execution device {requested!r}; use cpu, gpu, cuda, cuda:N or mps.",
                          device=requested)
    kind = device_kind(device)
    supported_kinds = {device_kind(d.lower()) for d in supported} or {"cpu"}
    if kind not in supported_kinds:
        raise CompoxError(422, "unsupported_execution_device",
                          f"The algorithm supports {sorted(supported_kinds)}, not {device!r}.", device=device,
                          supported_devices=sorted(supported_kinds))
    if kind == "gpu" and cluster_gpus <= 0:
        return "cpu", [f"Device {device!r} was requested but the cluster has no GPU runner; running on cpu."]
    if kind == "mps":
        return "cpu", ["Device 'mps' was requested but no runner of this server offers it; running on cpu."]
    return ("gpu" if kind == "gpu" else "cpu"), []
