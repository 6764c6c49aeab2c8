"""An app of its own on the test session's Serve, for tests that fuzz, overload or fill what the
shared apps must keep healthy: its own instance name (actors), route prefix and data_dir. It goes
again, with its actors, when the test module is done with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ray
from ray import serve
from ray.serve import Application

from compox_ray.app import build_app
from compox_ray.settings import Settings
from tests.conftest import Server

# The singleton actors an app's Api replicas start (compox_ray/services/__init__.py).
SINGLETON_ROLES = ("records", "dispatcher", "sessions", "training_supervisor", "housekeeper")


def run_own_app(name: str, port: int, data_dir: Path, build: Callable[[Settings], Application] = build_app,
                **settings) -> Server:
    settings = Settings(namespace="compox_ray_tests", instance=name, data_dir=data_dir, **settings)
    serve.run(build(settings), name=name, route_prefix=f"/{name}")
    return Server(name=name, url=f"http://127.0.0.1:{port}/{name}", settings=settings)


def remove_own_app(server: Server) -> None:
    serve.delete(server.name)
    for role in SINGLETON_ROLES:
        try:
            ray.kill(server.actor(role))
        except ValueError:  # never started
            pass
