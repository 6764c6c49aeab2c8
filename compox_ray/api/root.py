"""GET /: Compox's RootMessage; GPUs are those of the whole Ray cluster."""

from __future__ import annotations

from fastapi import APIRouter

from compox_ray import __version__
from compox_ray.api.deps import ServicesDep
from compox_ray.schemas import RootMessage

router = APIRouter(tags=["root"])


@router.get("/")
async def read_root(services: ServicesDep) -> RootMessage:
    settings = services.settings
    gpus = int(await services.executions.cluster_gpus())  # clients probe with GET /: read at most every 5 s
    return RootMessage(name=settings.server_name, tags=settings.server_tags, group=settings.group_name,
                       organization=settings.organization_name, domain=settings.organization_domain,
                       version=__version__, cuda_available=gpus > 0, cuda_capable_devices_count=gpus)
