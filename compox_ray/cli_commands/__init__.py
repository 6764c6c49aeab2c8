"""The client commands of ``compox-ray`` (``serve`` stays in compox_ray/cli.py): one module per
group, each with a ``register(commands, connection)`` that adds its subparsers."""

from __future__ import annotations

import argparse

from compox_ray.cli_commands import catalog, debug, runs
from compox_ray.cli_commands.common import connection_parent

GROUPS = (catalog, runs, debug)


def register_commands(commands: argparse._SubParsersAction) -> None:
    connection = connection_parent()
    for group in GROUPS:
        group.register(commands, connection)
