"""The Serve application builder: ``import_path: compox_ray.app:build_app``."""

from __future__ import annotations

import ray
from fastapi import FastAPI
from ray import serve
from ray.serve import Application
from ray.serve.config import BackpressureConfig

from compox_ray.api.auth import AccessPolicy, access_table, require_safe_exposure
from compox_ray.api.main import create_app
from compox_ray.runtime.devices import gpu_runners_enabled
from compox_ray.runtime.resource_plan import API_NUM_CPUS, ResourcePlan
from compox_ray.runtime.runner_deployment import RunnerCpu, RunnerGpu
from compox_ray.services import Services
from compox_ray.settings import Settings


# An open event stream holds one ongoing-request slot for as long as it lasts: the slots stay above
# max_event_streams (1000 by default) so that other requests are served while the streams are full.
# Past the slots, max_queued_requests wait (behind Serve's proxy, a burst of new requests also waits
# there while it is routed: room for a burst of streams); more are answered 503 with Retry-After at once.
@serve.deployment(name="Api", num_replicas=1, max_ongoing_requests=1200, max_queued_requests=1000,
                  backpressure_config=BackpressureConfig(retry_after_s=1),
                  ray_actor_options={"num_cpus": API_NUM_CPUS})  # defaults; the Serve config YAML overrides
@serve.ingress()
class Api:
    """FastAPI ingress. Holds no state of its own: records live in the RecordStore actor and work
    in the Dispatcher, so Serve may restart or add replicas at any time."""

    def __init__(self, settings: Settings, runners: dict):
        # ``runners`` are bound only so one config deploys them with the ingress; the Dispatcher
        # reaches them by name.
        self.access = AccessPolicy.from_settings(settings)
        # The REST tokens stay here: the actors the services start (and the training tasks and
        # import checks those start, where package code runs) get settings without them.
        self.services = Services.start(settings.without_rest_tokens())
        self.fastapi_app: FastAPI | None = None  # not "app": Serve's ingress wrapper has that name

    def __serve_build_asgi_app__(self) -> FastAPI:
        # Serve calls this after __init__: the app gets this replica's services.
        self.fastapi_app = create_app(self.services, self.access)
        return self.fastapi_app

    def access_table(self) -> list[dict]:
        """Every route of this replica's app with its access level (tests/api/test_access.py walks it)."""
        return access_table(self.fastapi_app)


def cluster_gpus() -> float:
    return ray.cluster_resources().get("GPU", 0) if ray.is_initialized() else 0


def serve_http_host() -> str | None:
    """Where Serve's HTTP proxy and direct ingress listen (``http_options.host`` of a Serve config,
    or of ``serve.start``), when Serve runs; None before."""
    if not ray.is_initialized():
        return None
    # No public API tells it; the controller's client (Serve's own, cached per process) does.
    client = serve.context._get_global_client(raise_if_no_controller_running=False)
    return client.http_config.host if client is not None else None


def build_app(settings: Settings | dict) -> Application:
    # A Serve config's ``args:`` arrive as a dict (this module's annotations are strings, so Serve
    # does not validate them into Settings); explicit values then go over environment and YAML.
    settings = Settings(**settings) if isinstance(settings, dict) else settings.with_sources()
    # Here both `compox-ray serve` and `serve deploy` pass (the latter in a task on the cluster).
    require_safe_exposure(settings, serve_http_host())
    package_settings = settings.without_rest_tokens()  # runners run package code: no REST token there
    # Shares of what the head node has, unless set (a Serve config's own values win over these).
    plan = ResourcePlan.for_cluster(settings) if ray.is_initialized() else ResourcePlan.for_cpus(settings, 4)
    runners = {"cpu": RunnerCpu.options(num_replicas=plan.runner_replicas,
                                        ray_actor_options={"num_cpus": plan.runner_num_cpus}).bind(package_settings)}
    # A GPU replica on a cluster without GPUs would never be placed, and the app never healthy.
    if gpu_runners_enabled(settings.gpu_runners, cluster_gpus()):
        runners["gpu"] = RunnerGpu.bind(package_settings)
    return Api.bind(settings, runners)
