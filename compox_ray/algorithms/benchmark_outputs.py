"""What a package's ``Runner.benchmark(args)`` reports, checked against the ``benchmark_outputs``
its ``[tool.compox]`` declares: every declared output and nothing else, each of its declared type,
range and options (the rules of parameters.py), and JSON as a record stores it."""

from __future__ import annotations

import json
from typing import Any

from compox_ray.algorithms.manifest import AdditionalParameterSchema
from compox_ray.algorithms.parameters import resolve_parameters
from compox_ray.errors import CompoxError


class BenchmarkRefused(ValueError):
    """The package has no benchmark, or what it reported does not match its benchmark_outputs."""


def check_benchmark_data(declared: list[AdditionalParameterSchema], data: Any) -> dict:
    """``data`` as the record keeps it; BenchmarkRefused saying what does not match."""
    if not isinstance(data, dict) or not all(isinstance(name, str) for name in data):
        raise BenchmarkRefused(f"benchmark() must return a dict of named outputs, not {type(data).__name__}.")
    names = [output.name for output in declared]
    missing = [name for name in names if data.get(name) is None]
    undeclared = sorted(set(data) - set(names))
    if missing:
        raise BenchmarkRefused(f"benchmark() did not report {', '.join(map(repr, missing))}, declared in "
                               "benchmark_outputs.")
    if undeclared:
        raise BenchmarkRefused(f"benchmark() reported {', '.join(map(repr, undeclared))}, which benchmark_outputs "
                               f"does not declare (it declares {names or 'nothing'}).")
    try:
        checked, _ = resolve_parameters([output.model_dump() for output in declared], data)
    except CompoxError as error:
        raise BenchmarkRefused(f"benchmark() output {error.detail.removeprefix('Parameter ')}") from None
    try:
        return json.loads(json.dumps(checked, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise BenchmarkRefused(f"benchmark() reported a value a record cannot hold as JSON: {error}") from None
