"""Start and stop a whole server: Ray (local or joined), Serve's HTTP proxy, the application."""

from __future__ import annotations

import contextlib
import logging
import socket

import psutil
import ray
from ray import serve

from compox_ray.api.auth import require_safe_exposure
from compox_ray.app import build_app
from compox_ray.ray_environment import use_ray_environment
from compox_ray.settings import HEAD_RESOURCE, Settings

logger = logging.getLogger(__name__)
_STOP_GRACE_S = 3.0


def start_ray(settings: Settings, **init_options) -> None:
    """A local Ray instance (whose head advertises HEAD_RESOURCE) or join ``settings.ray_address``."""
    use_ray_environment(settings)
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=settings.namespace, **init_options)
        if HEAD_RESOURCE not in ray.cluster_resources():
            raise RuntimeError(f"the Ray cluster at {settings.ray_address} has no node with the custom resource "
                               f"{HEAD_RESOURCE!r}; start its head with --resources='{{\"{HEAD_RESOURCE}\": 1}}'")
    else:
        # Ray reads its configuration once per process, possibly at import: read it again.
        ray._raylet.Config.initialize("")
        init_options.setdefault("include_dashboard", False)
        if settings.ray_num_cpus:
            init_options.setdefault("num_cpus", settings.ray_num_cpus)
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
    """On a cluster we joined, Serve and the instance's detached actors go. A Ray we started
    ourselves goes whole, and with it Serve and every actor (nothing of theirs outlives the
    instance: records and blobs are on disk or in S3); this process must then end with
    ``os._exit``, as Ray's own exit hook would wait on connections to the processes just ended."""
    if settings.ray_address:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
        return
    # Neither serve.shutdown(), which waits 30-60 s on Ray processes that a signal to the whole
    # process group (Ctrl-C, systemd, docker stop) has already stopped, nor ray.shutdown(), which
    # ends them one after the other, a second each: all get SIGTERM at once (actors exit as they
    # do on it), SIGKILL after the grace period.
    processes = psutil.Process().children(recursive=True)
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=_STOP_GRACE_S)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=_STOP_GRACE_S)


def require_safe_start(settings: Settings) -> None:
    """Fail before anything starts (RuntimeError, saying why): beyond loopback without tokens,
    or on a port another server holds."""
    require_safe_exposure(settings)
    require_free_port(settings.host, settings.port)


def require_free_port(host: str, port: int) -> None:
    """With direct ingress, Serve would retry the Api replica forever on a port that is taken."""
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
