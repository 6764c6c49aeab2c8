"""The environment of the Ray processes of this server, set before Ray starts (and, for what Ray
reads at import, before ``import ray``: the CLI calls ``use_ray_environment`` first).

No Ray import here, on purpose."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from compox_ray.settings import Settings, remove_rest_tokens_from_environment


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


def local_ray_environment(settings: Settings) -> dict[str, str]:
    """What closes a Ray instance this server starts on its own machine.

    Every Ray process binds loopback: Ray's single-machine mode (the one it uses on macOS) makes
    the node's address 127.0.0.1, which its gRPC servers, agents and metrics export listen on.
    Token authentication is on as well, so that what one user runs on a shared machine cannot
    be driven by another: the token is the operator's (``RAY_AUTH_TOKEN`` or
    ``RAY_AUTH_TOKEN_PATH``) or one generated at the first start and kept in ``data_dir``
    (mode 0600)."""
    if os.environ.get("RAY_AUTH_MODE", "token").lower() != "token":
        raise RuntimeError("RAY_AUTH_MODE must be 'token' (or unset) for the Ray this server starts: without it "
                           "anyone on this machine can run code on it. Unset RAY_AUTH_MODE.")
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token"}
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        env["RAY_AUTH_TOKEN_PATH"] = str(ensure_token_file(settings.data_dir / "ray_auth_token"))
    return env


def ensure_token_file(path: Path) -> Path:
    """A file holding a random token, readable by its owner only; created once, then kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise RuntimeError(f"{path} is readable by others; make it private: chmod 600 {path}") from None
        return path
    with os.fdopen(descriptor, "w") as token_file:
        token_file.write(secrets.token_hex(32))
    return path


def use_ray_environment(settings: Settings) -> None:
    """Put the switches of this server into this process's environment, which the Ray it starts
    inherits: Serve's (an operator's own setting wins) and, for a Ray of our own, those that close
    it (always). REST tokens leave it (``settings`` keeps the ones it read)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    remove_rest_tokens_from_environment()  # package code runs in Ray's processes
    for name, value in serve_environment(settings).items():
        os.environ.setdefault(name, value)
    if not settings.ray_address:
        os.environ.update(local_ray_environment(settings))
