"""Start and stop a whole server: Ray (local or joined), Serve's HTTP proxy, the application."""

from __future__ import annotations

import logging
import os

import ray
from ray import serve

from compox_ray.app import build_app
from compox_ray.settings import HEAD_RESOURCE, Settings

logger = logging.getLogger(__name__)


def start_ray(settings: Settings, **init_options) -> None:
    """A local Ray instance (whose head advertises HEAD_RESOURCE) or join ``settings.ray_address``."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=settings.namespace, **init_options)
        if HEAD_RESOURCE not in ray.cluster_resources():
            raise RuntimeError(f"the Ray cluster at {settings.ray_address} has no node with the custom resource "
                               f"{HEAD_RESOURCE!r}; start its head with --resources='{{\"{HEAD_RESOURCE}\": 1}}'")
    else:
        init_options.setdefault("include_dashboard", False)
        # address="local": always a new instance, never one that happens to run on this machine.
        ray.init(address="local", namespace=settings.namespace, resources={HEAD_RESOURCE: 1}, **init_options)


def start_serve(settings: Settings, *, route_prefix: str = "/") -> None:
    serve.start(http_options={"host": settings.host, "port": settings.port})
    # The app is named after the instance: the Dispatcher finds the Runner deployments by it.
    serve.run(build_app(settings), name=settings.instance, route_prefix=route_prefix)
    logger.info("compox_ray serving on http://%s:%d%s", settings.host, settings.port, route_prefix)


def stop(settings: Settings) -> None:
    """Serve and the instance's detached actors go; a Ray we started ourselves goes too."""
    try:
        serve.shutdown()
    finally:
        if not settings.ray_address:
            ray.shutdown()
