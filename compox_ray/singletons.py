"""Named, detached, head-pinned actors: one per server instance, found by name from anywhere.

Replicas of the Api deployment all call ``singleton(...)`` at start; ``get_if_exists`` makes the
first create the actor and the others get a handle to it.
"""

from __future__ import annotations

import ray

from compox_ray.settings import HEAD_RESOURCE, Settings


def singleton(actor_class, settings: Settings, role: str, *args, **options):
    return actor_class.options(
        name=settings.actor_name(role),
        namespace=settings.namespace,  # Serve replicas live in namespace "serve": name it explicitly
        lifetime="detached",
        get_if_exists=True,
        resources={HEAD_RESOURCE: 0.001},
        **options,
    ).remote(settings, *args)


def lookup(settings: Settings, role: str):
    """The handle of a running singleton; ValueError if it does not exist."""
    return ray.get_actor(settings.actor_name(role), namespace=settings.namespace)
