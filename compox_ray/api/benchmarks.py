"""Benchmarks (Compox /api/v0/benchmark-algorithm): run a package's ``benchmark`` on the runners."""

from __future__ import annotations

from fastapi import APIRouter

from compox_ray.api.deps import ServicesDep
from compox_ray.schemas import BenchmarkRecord, BenchmarkResponse, ErrorBody, IncomingBenchmarkRequest
from compox_ray.services.benchmarks import benchmark_record

router = APIRouter(prefix="/api/v0", tags=["benchmarks"])
_ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


@router.post("/benchmark-algorithm", responses=_ERRORS)
async def benchmark_algorithm(request: IncomingBenchmarkRequest, services: ServicesDep) -> BenchmarkResponse:
    """Queue a run of the algorithm's ``Runner.benchmark(additional_parameters)``."""
    return BenchmarkResponse(benchmark_id=await services.benchmarks.submit(request))


@router.get("/benchmarks/{benchmark_id}", responses=_ERRORS)
async def read_benchmark(benchmark_id: str, services: ServicesDep) -> BenchmarkRecord:
    """Status, progress and log as an execution's; ``data`` is what ``benchmark`` reported
    (checked against the package's ``benchmark_outputs``), there once the status is COMPLETED."""
    return benchmark_record(await services.benchmarks.get(benchmark_id))
