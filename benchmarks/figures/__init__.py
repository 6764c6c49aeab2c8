"""What a figure is, what a workload gets, and the list of workloads ``run_all`` runs.

A workload is a function ``(target, context) -> {figure name: value}`` run once per server. It
declares the figures it produces, so that when it cannot run (``NotAvailable``: the server does not
offer the routes it needs yet) every one of them reads "n/a" with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.client import ApiClient


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    lower_is_better: bool
    goal_ratio: float | None = None  # compox_ray / Compox must be <= (lower) or >= (higher) this
    goal_max: float | None = None    # compox_ray's own value must stay below this (memory)
    goal_min: float | None = None    # compox_ray's own value must reach at least this

    @property
    def goal(self) -> str:
        if self.goal_ratio is not None:
            sign = "<=" if self.lower_is_better else ">="
            ratio = f"1/{1 / self.goal_ratio:g}" if self.goal_ratio < 1 and (1 / self.goal_ratio).is_integer() \
                else f"{self.goal_ratio:g}"
            return f"{sign} {ratio}"
        if self.goal_max is not None:
            return f"< {self.goal_max:g} {self.unit}"
        if self.goal_min is not None:
            return f">= {self.goal_min:g} {self.unit}"
        return ""


@dataclass
class Context:
    quick: bool
    work_dir: Path
    packages: dict[str, Path]
    sizes_mib: list[int]
    repetitions: int
    training_counts: list[int]


@dataclass
class Target:
    server: str          # "Compox" or "compox_ray"
    store: str           # "local" or "S3"
    url: str
    root_pid: int        # the server's process: memory is summed over its whole tree
    client: ApiClient
    deployed: dict[str, str] = field(default_factory=dict)  # package dir -> algorithm_id
    facts: dict[str, float] = field(default_factory=dict)   # results later workloads refer to
    notes: list[str] = field(default_factory=list)

    def algorithm(self, package: Path) -> str:
        """Deploy a package once per server and remember its id."""
        key = str(package)
        if key not in self.deployed:
            self.deployed[key] = self.client.deploy_local(package)
        return self.deployed[key]


@dataclass(frozen=True)
class Workload:
    name: str
    run: Callable[[Target, Context], dict[str, float]]
    figures: Callable[[Context], list[Figure]]


def all_workloads() -> list[Workload]:
    from benchmarks.figures import executions, files, reliability, training

    return [*files.WORKLOADS, *executions.WORKLOADS, *training.WORKLOADS, *reliability.WORKLOADS]
