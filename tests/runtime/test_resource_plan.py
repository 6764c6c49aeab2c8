"""The resource shares `make run` derives from the machine (README "What `make run` asks Ray for")."""

from __future__ import annotations

import pytest

from compox_ray.runtime.resource_plan import ResourcePlan
from compox_ray.settings import Settings


@pytest.mark.parametrize("cores, trainings_at_once", [(1, 5), (2, 5), (4, 5), (16, 13)])
def test_the_server_and_several_trainings_always_fit(cores, trainings_at_once):
    plan = ResourcePlan.for_cpus(Settings(), cores)
    standing = plan.api_num_cpus + plan.runner_replicas * plan.runner_num_cpus
    assert int((cores - standing) // plan.training_num_cpus) == trainings_at_once
    assert plan.runner_replicas * plan.runner_num_cpus <= cores / 2  # the rest is the trainings' room


def test_settings_override_the_derived_shares():
    plan = ResourcePlan.for_cpus(Settings(runner_num_cpus=2, runner_replicas=3, training_num_cpus=0.5), 2)
    assert (plan.runner_num_cpus, plan.runner_replicas, plan.training_num_cpus) == (2, 3, 0.5)
