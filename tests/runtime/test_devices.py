"""Device resolution: Compox's GPU-to-CPU fallback, and 422 for what an algorithm cannot use."""

from __future__ import annotations

import pytest

from compox_ray.errors import CompoxError
from compox_ray.runtime.devices import gpu_runners_enabled, resolve_device_class


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


def test_gpu_runners_turned_off_count_as_no_gpu():
    assert gpu_runners_enabled(None, cluster_gpus=1) and not gpu_runners_enabled(None, cluster_gpus=0)
    assert not gpu_runners_enabled(False, cluster_gpus=4)
    assert gpu_runners_enabled(True, cluster_gpus=0)  # an autoscaler may add the GPU nodes


def test_mps_falls_back_to_cpu_with_a_warning():
    device_class, warnings = resolve_device_class("mps", ["cpu", "mps"], "cpu", cluster_gpus=1)
    assert device_class == "cpu" and "mps" in warnings[0] and "running on cpu" in warnings[0]


def test_gpu_on_a_server_whose_gpu_runners_are_off_runs_on_the_cpu_with_a_warning(s3_app_server, s3_algorithms):
    """The S3 app is deployed with gpu_runners: false."""
    from tests.runtime.conftest import execute, upload_slices, wait_for
    from tests.runtime.test_executions import volume

    with s3_app_server.client() as client:
        record = wait_for(client, execute(client, s3_algorithms["invert"], upload_slices(client, volume(1)),
                                          execution_device_override="cuda"))
    assert record["status"] == "COMPLETED", record["log"]
    assert record["resolved_execution_device"].startswith("cpu@")
    assert "WARNING" in record["log"] and "no GPU runner; running on cpu" in record["log"]
