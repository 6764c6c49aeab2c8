"""Which Runner deployment an execution goes to, from the requested device and the cluster.

Compox's rule, kept for compatibility: a GPU request on a cluster without GPUs runs on the CPU
with a WARNING in the log, so a viewer that always sends "gpu" keeps working on a CPU server.
"""

from __future__ import annotations

import re

from compox_ray.errors import CompoxError

_DEVICE = re.compile(r"^(cpu|gpu|cuda|cuda:\d+|mps)$")


def device_kind(device: str) -> str:
    """"cpu", "gpu" or "mps": the names packages use in supported_devices."""
    return "gpu" if device.startswith(("cuda", "gpu")) else device


def resolve_device_class(requested: str | None, supported: list[str], default: str | None,
                         cluster_gpus: float) -> tuple[str, list[str]]:
    """("cpu" | "gpu", warnings) for an execution; 422 for a device the algorithm cannot use."""
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
        return "cpu", [f"Device {device!r} was requested but the cluster has no GPU; running on cpu."]
    return ("gpu" if kind == "gpu" else "cpu"), []
