"""Check a request's parameters against the schema a package declares, and fill in defaults.

Declared parameters are validated by type (bool is never a number; an int is a valid float and a
whole float a valid int, since JSON clients differ), range (min/max, inclusive; NaN and Infinity
are in no range), options (enums) and element type (lists). Omitted ones, and ones sent as null,
get their default. Names the package does not declare pass through unchanged (if they hold no
NaN or Infinity), each with a WARNING line for the run's log: Compox treats additional_parameters
as free-form and existing clients send extra keys.
"""

from __future__ import annotations

import math
from typing import Any

from compox_ray.algorithms.manifest import AdditionalParameterSchema, element_type, matches_type, type_phrase
from compox_ray.errors import CompoxError
from compox_ray.storable_json import storable_json_problem


class _Rejected(Exception):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule, self.message = rule, message


def _coerce(value: Any, expected: type) -> Any:
    if expected is int and isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
        return int(value)
    if not matches_type(value, expected):
        raise _Rejected("type", f"must be {type_phrase(expected)}, got {type(value).__name__} {value!r}")
    if expected is float:
        try:
            value = float(value)
        except OverflowError:  # an int past float's range
            raise _Rejected("range", "must be a finite number, got an integer too large for a float") from None
        if not math.isfinite(value):
            # NaN compares false with every bound, so it would pass any min/max check.
            raise _Rejected("range", f"must be a finite number, got {value}")
    return value


def _check_bounds(value: Any, spec: AdditionalParameterSchema) -> None:
    low, high = spec.config.min, spec.config.max
    if (low is not None and value < low) or (high is not None and value > high):
        raise _Rejected("range", f"must be between {low} and {high}, got {value}")


def _check_value(value: Any, spec: AdditionalParameterSchema) -> Any:
    config = spec.config
    expected = element_type(config.type)
    if config.kind == "list":
        if not isinstance(value, list):
            raise _Rejected("type", f"must be a list of {expected.__name__} values, got {type(value).__name__}")
        items = [_coerce(item, expected) for item in value]
        allowed_lists = [option for option in config.options if isinstance(option, list)]
        allowed_items = [option for option in config.options if not isinstance(option, list)]
        if allowed_lists and items not in allowed_lists:
            raise _Rejected("options", f"must be one of {allowed_lists}, got {items}")
        outside = [item for item in items if allowed_items and item not in allowed_items]
        if outside:
            raise _Rejected("options", f"items {outside} are not among the options {allowed_items}")
        return items
    checked = _coerce(value, expected)
    if config.kind == "enum" and checked not in config.options:
        raise _Rejected("options", f"must be one of {config.options}, got {checked!r}")
    if expected in (int, float):
        _check_bounds(checked, spec)
    return checked


def resolve_parameters(declared: list[dict], given: dict) -> tuple[dict, list[str]]:
    """The parameters the algorithm receives, and WARNING messages for undeclared names.

    CompoxError 422 ``invalid_parameters`` names the first offending parameter and its rule
    (``details``: parameter, rule, errors = every problem found).
    """
    specs = [AdditionalParameterSchema.model_validate(spec) for spec in declared]
    given = dict(given or {})
    resolved: dict[str, Any] = {}
    problems: list[dict] = []
    for spec in specs:
        value = given.get(spec.name)
        if value is None:
            if spec.config.default is not None:
                resolved[spec.name] = spec.config.default
            continue
        try:
            resolved[spec.name] = _check_value(value, spec)
        except _Rejected as rejected:
            problems.append({"parameter": spec.name, "rule": rejected.rule,
                             "message": f"Parameter {spec.name!r} {rejected.message}."})
    declared_names = {spec.name for spec in specs}
    for name, value in given.items():
        # Passed through as they are, so they must be storable JSON (no NaN or Infinity in them).
        if name not in declared_names and (problem := storable_json_problem(value)):
            problems.append({"parameter": name, "rule": "json", "message": f"Parameter {name!r}: {problem}."})
    if problems:
        first = problems[0]
        raise CompoxError(422, "invalid_parameters", first["message"], parameter=first["parameter"],
                          rule=first["rule"], errors=problems)
    warnings = []
    for name, value in given.items():
        if name not in declared_names:
            resolved[name] = value
            warnings.append(f"Parameter {name!r} is not declared by the algorithm; it is passed through unchanged.")
    return resolved, warnings
