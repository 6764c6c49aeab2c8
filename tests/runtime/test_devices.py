"""Device resolution: Compox's GPU-to-CPU fallback, and 422 for what an algorithm cannot use."""

from __future__ import annotations

import pytest

from compox_ray.errors import CompoxError
from compox_ray.runtime.devices import resolve_device_class


@pytest.mark.parametrize("requested", ["gpu", "cuda", "cuda:1", "GPU"])
def test_gpu_requests_fall_back_to_cpu_with_a_warning_on_a_cluster_without_gpus(requested):
    device_class, warnings = resolve_device_class(requested, ["cpu", "gpu"], "cpu", cluster_gpus=0)
    assert device_class == "cpu"
    assert len(warnings) == 1 and "no GPU" in warnings[0]


def test_gpu_requests_go_to_the_gpu_runners_where_there_are_gpus():
    assert resolve_device_class("cuda:0", ["cpu", "gpu"], "cpu", cluster_gpus=2) == ("gpu", [])
    assert resolve_device_class(None, ["gpu"], "gpu", cluster_gpus=1) == ("gpu", [])
    assert resolve_device_class(None, [], None, cluster_gpus=1) == ("cpu", [])


@pytest.mark.parametrize("requested, supported, code", [
    ("tpu", ["cpu"], "invalid_execution_device"),
    ("cuda:x", ["cpu", "gpu"], "invalid_execution_device"),
    ("gpu", ["cpu"], "unsupported_execution_device"),
    ("mps", ["cpu", "gpu"], "unsupported_execution_device"),
])
def test_devices_the_algorithm_cannot_use_are_422(requested, supported, code):
    with pytest.raises(CompoxError) as raised:
        resolve_device_class(requested, supported, "cpu", cluster_gpus=1)
    assert (raised.value.status, raised.value.code) == (422, code)
