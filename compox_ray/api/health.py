"""GET /api/v0/health: is the server and its record store answering (operators, tests)."""

from __future__ import annotations

from fastapi import APIRouter

from compox_ray.api.auth import public
from compox_ray.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/api/v0/health")
@public  # load balancers and probes carry no token
async def read_health(services: ServicesDep) -> dict:
    described = await services.records.describe.remote()
    # Where the database lives is the server's business, not its clients'.
    return {"status": "ok", "records": {"pid": described["pid"], "schema_version": described["schema_version"]}}
