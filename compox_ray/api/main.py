"""The FastAPI application: the single place that mounts every router."""

from __future__ import annotations

from fastapi import FastAPI

from compox_ray import __version__
from compox_ray.api import (algorithms, benchmarks, checkpoints, deploy, executions, files, files_v1, health, root,
                            samples, trainings)
from compox_ray.api.auth import AccessPolicy, install_access_control
from compox_ray.api.body_limit import JsonBodyLimit
from compox_ray.api.errors import install_error_handlers
from compox_ray.api.sse import EventStreamSlots
from compox_ray.services import Services

ROUTERS = (root.router, health.router, files.router, files_v1.router, executions.router, benchmarks.router,
           samples.router, trainings.router, checkpoints.router, algorithms.router, deploy.router)


def create_app(services: Services, access: AccessPolicy) -> FastAPI:
    app = FastAPI(title="compox_ray", version=__version__,
                  description="Compox-compatible algorithm execution and training server on Ray.")
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(JsonBodyLimit, max_bytes=services.settings.max_json_body_bytes)
    app.state.event_stream_slots = EventStreamSlots(services.settings.max_event_streams)
    install_access_control(app, access)  # last: outside every other middleware (README "Security")
    app.state.services = services
    return app
