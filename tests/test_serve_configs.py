"""The Serve configs that ship (deployments/): valid for `serve deploy`, and the single-machine one
leaves the CPU requests to the app, which derives them from the head node (README)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

DEPLOYMENTS = Path(__file__).resolve().parents[1] / "deployments"


@pytest.mark.parametrize("name", ["local.yaml", "cluster.yaml"])
def test_shipped_serve_configs_pass_serves_schema(name):
    config = ServeDeploySchema.model_validate(yaml.safe_load((DEPLOYMENTS / name).read_text()))
    assert [app.import_path for app in config.applications] == ["compox_ray.app:build_app"]


def test_the_single_machine_config_sets_no_cpu_request():
    (app,) = yaml.safe_load((DEPLOYMENTS / "local.yaml").read_text())["applications"]
    assert all("num_cpus" not in deployment.get("ray_actor_options", {}) for deployment in app["deployments"])
