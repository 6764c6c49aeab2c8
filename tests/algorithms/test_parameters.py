"""resolve_parameters: declared parameters validated and defaulted, undeclared ones passed on."""

from __future__ import annotations

import pytest

from compox_ray.algorithms.parameters import resolve_parameters
from compox_ray.errors import CompoxError

DECLARED = [
    {"name": "sigma", "config": {"type": "float_range", "default": 1.0, "min": 0.1, "max": 10.0, "step": 0.1}},
    {"name": "iterations", "config": {"type": "int_range", "default": 50, "min": 5, "max": 500, "step": 5}},
    {"name": "method", "config": {"type": "string_enum", "default": "gaussian", "options": ["gaussian", "tv"]}},
    {"name": "invert", "config": {"type": "bool", "default": False}},
    {"name": "label", "config": {"type": "string"}},
    {"name": "levels", "config": {"type": "int_list", "default": [1, 2], "options": [1, 2, 3]}},
    {"name": "gain", "config": {"type": "float", "default": 1.0, "min": 0.0}},
]


def test_defaults_fill_what_is_omitted_or_null():
    resolved, warnings = resolve_parameters(DECLARED, {"sigma": None})
    assert resolved == {"sigma": 1.0, "iterations": 50, "method": "gaussian", "invert": False, "levels": [1, 2],
                        "gain": 1.0}
    assert warnings == []


def test_valid_values_pass_and_numbers_are_coerced_sensibly():
    resolved, _ = resolve_parameters(DECLARED, {"sigma": 2, "iterations": 10.0, "method": "tv", "invert": True,
                                                "label": "x", "levels": [3]})
    assert resolved["sigma"] == 2.0 and isinstance(resolved["sigma"], float)
    assert resolved["iterations"] == 10 and isinstance(resolved["iterations"], int)
    assert (resolved["method"], resolved["invert"], resolved["label"], resolved["levels"]) == ("tv", True, "x", [3])


def test_undeclared_parameters_pass_through_with_a_warning():
    resolved, warnings = resolve_parameters(DECLARED, {"tile_size": 512})
    assert resolved["tile_size"] == 512
    assert warnings == ["Parameter 'tile_size' is not declared by the algorithm; it is passed through unchanged."]


@pytest.mark.parametrize("given, parameter, rule", [
    ({"sigma": 50.0}, "sigma", "range"),
    ({"sigma": 0.0}, "sigma", "range"),
    ({"sigma": "big"}, "sigma", "type"),
    ({"iterations": 2.5}, "iterations", "type"),
    ({"iterations": True}, "iterations", "type"),
    ({"method": "median"}, "method", "options"),
    ({"invert": "yes"}, "invert", "type"),
    ({"levels": 3}, "levels", "type"),
    ({"levels": [4]}, "levels", "options"),
    ({"gain": -1.0}, "gain", "range"),
])
def test_invalid_values_are_422_naming_parameter_and_rule(given, parameter, rule):
    with pytest.raises(CompoxError) as raised:
        resolve_parameters(DECLARED, given)
    error = raised.value
    assert (error.status, error.code) == (422, "invalid_parameters")
    assert (error.details["parameter"], error.details["rule"]) == (parameter, rule)
    assert repr(parameter) in error.detail


def test_every_problem_is_listed():
    with pytest.raises(CompoxError) as raised:
        resolve_parameters(DECLARED, {"sigma": 99.0, "method": "x"})
    assert [problem["parameter"] for problem in raised.value.details["errors"]] == ["sigma", "method"]
