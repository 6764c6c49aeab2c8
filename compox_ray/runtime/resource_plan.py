"""How much of the cluster each part of the server asks Ray for, where the operator sets nothing.

Ray reserves logical CPUs whether a replica is busy or not, so fixed whole-CPU requests deadlock a
small machine: on 2 cores an Api replica, a RunnerCpu replica and one training of 1 CPU each do not
fit, and the training waits forever. The defaults are therefore shares of the head node's CPUs
(C), chosen so that the Api, the runners and several trainings always fit together:

| part | default request |
|---|---|
| Api replica | 0.1 CPU |
| RunnerCpu replicas | max(1, C // 8) replicas of clamp(C / 4, 0.25, 1) CPU |
| a training | clamp(C / 8, 0.125, 1) CPU (and ``training_num_gpus`` where the cluster has GPUs) |

On 1 core that is 0.1 + 0.25 + five trainings of 0.125; on 2 cores 0.1 + 0.5 + five trainings of
0.25; on 16 cores 0.1 + 2 x 1 + thirteen trainings of 1. A setting, a Serve config's
``ray_actor_options`` or a package's ``training_resources`` overrides each.

"Can never fit" is judged against the largest node the cluster has or its autoscaler can still
add, so GPU workers that start from zero count.
"""

from __future__ import annotations

from dataclasses import dataclass

import ray

from compox_ray.settings import HEAD_RESOURCE, Settings

API_NUM_CPUS = 0.1


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


@dataclass(frozen=True)
class ResourcePlan:
    api_num_cpus: float
    runner_num_cpus: float
    runner_replicas: int
    training_num_cpus: float

    @classmethod
    def for_cpus(cls, settings: Settings, node_cpus: float) -> ResourcePlan:
        def chosen(name: str, derived):
            value = getattr(settings, name)
            return derived if value is None else value

        return cls(
            api_num_cpus=API_NUM_CPUS,
            runner_num_cpus=chosen("runner_num_cpus", _clamp(node_cpus / 4, 0.25, 1.0)),
            runner_replicas=chosen("runner_replicas", max(1, int(node_cpus // 8))),
            training_num_cpus=chosen("training_num_cpus", _clamp(node_cpus / 8, 0.125, 1.0)),
        )

    @classmethod
    def for_cluster(cls, settings: Settings) -> ResourcePlan:
        return cls.for_cpus(settings, head_node_cpus())


def head_node_cpus() -> float:
    """The CPUs of the node that carries the singletons (the whole cluster's if none is marked)."""
    alive = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    heads = [resources for resources in alive if HEAD_RESOURCE in resources]
    return float((heads or alive or [{"CPU": 1}])[0].get("CPU", 1))


def largest_node_shapes() -> list[dict[str, float]]:
    """The resources of every node the cluster has and of every node type its autoscaler can
    still start: what a request must fit one of."""
    shapes = [dict(node["Resources"]) for node in ray.nodes() if node.get("Alive")]
    config = _autoscaler_config()
    if config is not None:
        shapes += [dict(group.resources) for group in config.node_group_configs if group.max_count != 0]
    return shapes


def _autoscaler_config():
    # The node types the autoscaler was given (ray up, KubeRay); None on a cluster without one.
    try:
        from ray._private.state import state

        return state.get_cluster_config()
    except Exception:
        return None


def never_fits(request: dict[str, float]) -> str | None:
    """Why ``request`` (e.g. {"CPU": 1, "GPU": 0.25}) can never be placed, or None if it can."""
    wanted = {name: amount for name, amount in request.items() if amount > 0}
    shapes = largest_node_shapes()
    if any(all(shape.get(name, 0) >= amount for name, amount in wanted.items()) for shape in shapes):
        return None
    largest = {name: max((shape.get(name, 0) for shape in shapes), default=0) for name in wanted}
    return (f"it asks for {describe(wanted)}, and no node of this cluster has that, nor can its autoscaler add "
            f"one (the largest have {describe(largest)})")


def describe(resources: dict[str, float]) -> str:
    return ", ".join(f"{name} {amount:g}" for name, amount in sorted(resources.items())) or "nothing"
