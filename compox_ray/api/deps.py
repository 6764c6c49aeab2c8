"""Route dependencies as Annotated aliases, so route signatures stay short."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from compox_ray.services import Services


async def get_services(request: Request) -> Services:
    # create_app(services) puts them here; the Api deployment builds them once per replica.
    # async: FastAPI runs a plain-def dependency in its thread pool, a thread hand-off per request.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
