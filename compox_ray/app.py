"""The Serve application builder: ``import_path: compox_ray.app:build_app``."""

from __future__ import annotations

import ray
from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from compox_ray.api.main import create_app
from compox_ray.runtime.runner_deployment import RunnerCpu, RunnerGpu
from compox_ray.services import Services
from compox_ray.settings import Settings


@serve.deployment(name="Api", num_replicas=1, max_ongoing_requests=200,
                  ray_actor_options={"num_cpus": 0.25})  # defaults; the Serve config YAML overrides
@serve.ingress()
class Api:
    """FastAPI ingress. Holds no state of its own: records live in the RecordStore actor and work
    in the Dispatcher, so Serve may restart or add replicas at any time."""

    def __init__(self, settings: Settings, runners: dict):
        # ``runners`` are bound only so one config deploys them with the ingress; the Dispatcher
        # reaches them by name.
        self.services = Services.start(settings)

    def __serve_build_asgi_app__(self) -> FastAPI:
        # Serve calls this after __init__: the app gets this replica's services.
        return create_app(self.services)


def cluster_has_gpus() -> bool:
    return ray.is_initialized() and ray.cluster_resources().get("GPU", 0) > 0


def build_app(settings: Settings) -> Application:
    settings = settings.with_sources()
    runners = {"cpu": RunnerCpu.bind(settings)}
    # A GPU replica on a cluster without GPUs would never be placed, and the app never healthy.
    if settings.gpu_runners if settings.gpu_runners is not None else cluster_has_gpus():
        runners["gpu"] = RunnerGpu.bind(settings)
    return Api.bind(settings, runners)
