"""``python -m tests.api.serve_deploy_child CONFIG...``: what ``serve deploy`` does with each Serve
config file in turn (Serve started with the config's http_options, then the applications deployed
and built in a task, as the dashboard does), in a Ray of its own; prints one JSON line per config:
the application's status, message and deployments once its build is over."""

from __future__ import annotations

import json
import sys
import time

import ray
import yaml
from ray import serve
from ray.serve._private.api import serve_start
from ray.serve.schema import ServeDeploySchema

from compox_ray.settings import HEAD_RESOURCE


def deployed(path: str, timeout_s: float = 120) -> dict:
    config = ServeDeploySchema.model_validate(yaml.safe_load(open(path)))
    client = serve_start(http_options=config.http_options.model_dump(), proxy_location=config.proxy_location,
                         grpc_options=config.grpc_options.model_dump(), global_logging_config=config.logging_config)
    client.deploy_apps(config)
    name = config.applications[0].name
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = serve.status().applications.get(name)
        # Built: Serve knows the app's deployments; failed: the build's error is the message.
        if status is not None and (status.status == "DEPLOY_FAILED" or status.deployments):
            return {"status": getattr(status.status, "value", str(status.status)), "message": status.message, "deployments": sorted(status.deployments)}
        time.sleep(0.2)
    raise TimeoutError(f"{name} neither built nor failed within {timeout_s} s")


if __name__ == "__main__":
    ray.init(address="local", num_cpus=1, resources={HEAD_RESOURCE: 1}, include_dashboard=False,
             object_store_memory=100 * 2**20)
    try:
        for config_path in sys.argv[1:]:
            print(json.dumps(deployed(config_path)), flush=True)
    finally:
        ray.shutdown()
