"""Lower layers never import upper ones: api -> services/runtime -> storage; runners stay apart."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "compox_ray"
BANNED = {
    "runners": ("compox_ray.api", "compox_ray.runtime", "compox_ray.services", "compox_ray.algorithms"),
    "algorithms": ("compox_ray.api", "compox_ray.runtime", "compox_ray.services"),
    "storage": ("compox_ray.api", "compox_ray.runtime", "compox_ray.services", "compox_ray.algorithms"),
    "services": ("compox_ray.api",),
    "runtime": ("compox_ray.api",),
}


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_lower_layers_never_import_upper_ones():
    offences = []
    for layer, banned in BANNED.items():
        for path in (ROOT / layer).rglob("*.py"):
            offences += [f"{path.relative_to(ROOT)} imports {name}" for name in imported_modules(path)
                         if name.startswith(banned)]
    assert offences == []
