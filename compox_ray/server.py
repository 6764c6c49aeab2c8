"""Start and stop a whole server: Ray (local or joined), Serve's HTTP proxy, the application."""

from __future__ import annotations

import logging
import os
import socket

import ray
from ray import serve

from compox_ray.app import build_app
from compox_ray.settings import HEAD_RESOURCE, Settings

logger = logging.getLogger(__name__)


def serve_environment(settings: Settings) -> dict[str, str]:
    """Serve's switches for this server. Every Ray process reads them when it starts, so they go
    into the environment before Ray starts (a joined cluster has them from its own nodes)."""
    env = {
        # The request handlers are async and do blocking work in threads: on the replica's own loop
        # each request saves a thread hand-off, and (with direct ingress) a streamed download keeps
        # uvicorn's backpressure instead of queueing every chunk in memory.
        "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
        "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
        # Serve's documented high-throughput mode: handle calls (the Dispatcher's to the runners)
        # go over each replica's gRPC server instead of Ray actor tasks, and Serve's log files are
        # written in batches.
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        # The mode's other defaults are chosen here: replicas keep logging every line to stderr at
        # once (the console of `make run`), Serve's HTTP proxy (ingress "proxy") keeps its default
        # transport, and direct ingress is on only where the `ingress` setting asks for it (below).
        "RAY_SERVE_LOG_TO_STDERR": "1",
        "RAY_SERVE_PROXY_USE_GRPC": "0",
        "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0",
    }
    if settings.ingress == "direct":
        # The Api replica listens on host:port itself: one process and one hop fewer per request.
        # Nothing stands in front of it to retry or deregister, so a replaced replica takes the port
        # back at once and a stopping one only waits for the requests it is serving.
        env |= {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "1",
                "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(settings.port),
                "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(settings.port + 1),  # exclusive
                "RAY_SERVE_PORT_QUARANTINE_S": "0",
                "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0"}
    return env


def use_serve_environment(settings: Settings) -> None:
    """Put ``serve_environment`` into this process's environment, which the Ray it starts inherits;
    an operator's own setting wins."""
    for name, value in serve_environment(settings).items():
        os.environ.setdefault(name, value)


def start_ray(settings: Settings, **init_options) -> None:
    """A local Ray instance (whose head advertises HEAD_RESOURCE) or join ``settings.ray_address``."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    use_serve_environment(settings)
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
    proxy_port = settings.port
    if settings.ingress == "direct":
        proxy_port = settings.proxy_port or _free_port(settings.host)
    serve.start(http_options={"host": settings.host, "port": proxy_port})
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


def require_free_port(host: str, port: int) -> None:
    """Fail before anything starts: with direct ingress, Serve would retry the Api replica forever."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket will
        try:
            probe.bind((host, port))
        except OSError as error:
            raise RuntimeError(f"cannot listen on {host}:{port}: {error.strerror}; is another server running "
                               "there? Set COMPOX_RAY_PORT to use another port.") from None


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
