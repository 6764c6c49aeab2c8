"""[project] and [tool.compox] of a package: what is accepted, and what is refused with a reason."""

from __future__ import annotations

import pytest

from compox_ray.algorithms.manifest import parse_manifest, read_package_metadata
from compox_ray.errors import CompoxError
from tests.factories.packages import make_algorithm_package


def test_metadata_of_a_valid_package(tmp_path):
    root = make_algorithm_package(tmp_path, name="Denoise.X", version="3.7.1", tags=["a"], num_gpus_hint=2)
    metadata = read_package_metadata(root)
    assert (metadata.name, metadata.major, metadata.minor) == ("Denoise.X", "3", 7)
    manifest = metadata.manifest
    assert manifest.algorithm_type == "Image2Image" and manifest.supported_devices == ["cpu", "gpu"]
    assert manifest.additional_parameters[0].displayed_name == "Factor"  # derived from the name
    assert manifest["num_gpus_hint"] == 2  # keys of other tools are kept
    assert (manifest.removable, manifest.exportable) == (False, True)


def test_defaults_fill_an_empty_tool_compox():
    manifest = parse_manifest({})
    assert (manifest.algorithm_type, manifest.supported_devices) == ("Undefined", ["cpu"])
    assert manifest.default_device == "cpu" and manifest.additional_parameters == []


def parameter(type_: str, **config) -> dict:
    return {"additional_parameters": [{"name": "p", "config": {"type": type_, **config}}]}


@pytest.mark.parametrize("tool_compox, reason", [
    ({"algorithm_type": "Image2Sound"}, "algorithm_type"),
    ({"supported_devices": ["cpu"], "default_device": "gpu"}, "default_device 'gpu' is not among"),
    ({"supported_devices": ["tpu"]}, "supported_devices"),
    (parameter("int_range", default=20, min=0, max=10, step=1), "outside its range"),
    (parameter("float_range", default=0.5, min=0.0, max=1.0), "needs step"),
    (parameter("float_range", default=0.5, min=1.0, max=0.0, step=0.1), "less than max"),
    (parameter("string_enum", default="c", options=["a", "b"]), "not one of its options"),
    (parameter("int_enum", options=[]), "needs options"),
    (parameter("int", default="three"), "is not an int"),
    (parameter("int", default=True), "is not an int"),
    (parameter("bool_list", default=[True, 1]), "list of bool values"),
    (parameter("int", default=1, decimal_precision=2), "float types only"),
    (parameter("colour"), "config.type"),
    ({"additional_parameters": [{"name": "p", "config": {"type": "int"}}, {"name": "p", "config": {"type": "int"}}]},
     "more than once"),
])
def test_invalid_tool_compox_is_refused_naming_the_problem(tool_compox, reason):
    with pytest.raises(CompoxError) as raised:
        parse_manifest(tool_compox)
    assert (raised.value.status, raised.value.code) == (422, "invalid_algorithm_config")
    assert reason in raised.value.detail


def test_enum_default_is_its_first_option_and_float_accepts_an_int():
    manifest = parse_manifest(parameter("string_enum", options=["x", "y"]))
    assert manifest.additional_parameters[0].config.default == "x"
    manifest = parse_manifest(parameter("float_range", default=1, min=0, max=2, step=1))
    assert manifest.additional_parameters[0].config.default == 1.0


@pytest.mark.parametrize("pyproject, reason", [
    ("[project]\nname = 'x'\n", "version is missing"),
    ("[project]\nname = 'x'\nversion = 'one'\n", "is not a version"),
    ("[project]\nname = '../x'\nversion = '1.0.0'\n", "name"),
    ("[tool.compox]\n", "no [project]"),
    ("[project\n", "not valid TOML"),
    ("[project]\nname = 'x'\nversion = '1.99999999999999999999.0'\n", "at most 9 digits"),
    ("[project]\nname = 'x'\nversion = '99999999999999999999.0.0'\n", "at most 9 digits"),
])
def test_invalid_project_table_is_refused(tmp_path, pyproject, reason):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(CompoxError) as raised:
        read_package_metadata(tmp_path)
    assert raised.value.code == "invalid_algorithm_package" and reason in raised.value.detail


VALID_PROJECT = "[project]\nname = 'x'\nversion = '1.0.0'\n"


@pytest.mark.parametrize("pyproject, reason", [
    (VALID_PROJECT + "[tool.compox]\nnested = " + "[" * 5000 + "]" * 5000 + "\n", "too deeply"),
    (VALID_PROJECT + "[tool.compox]\nnested = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", "too deeply"),
    (VALID_PROJECT + "[tool.compox]\nnested = " + "[" * 70 + "]" * 70 + "\n", "nested deeper than 64"),
    # 100,000 parts: tomllib alone would take tens of GB (memory grows with the square of the parts).
    (VALID_PROJECT + ".".join(["a"] * 100_000) + " = 1\n", "dotted key of more than 64 parts"),
    (VALID_PROJECT + "[" + ".".join(["t"] * 100) + "]\n", "dotted key of more than 64 parts"),
    ("tool = 1\n" + VALID_PROJECT, "[tool.compox] must be a table"),
    (VALID_PROJECT + "[tool.compox]\nweight = nan\n", "not JSON numbers"),
    (VALID_PROJECT + "[tool.compox]\nadditional_parameters = [{name = 'p', config = {type = 'float', max = inf}}]\n",
     "not JSON numbers"),
    (VALID_PROJECT + "[tool.compox]\nreleased = 2026-01-01T00:00:00Z\n", "datetime is not a JSON value"),
    (VALID_PROJECT + "[tool.compox]\ndescription = '" + "x" * 2**20 + "'\n", "larger than"),
    (VALID_PROJECT + "[tool.compox]\ntraining_resources = {num_cpus = -1}\n", "num_cpus must be a number"),
    (VALID_PROJECT + "[tool.compox]\ntraining_resources = {num_gpus = 'all'}\n", "num_gpus must be a number"),
    (VALID_PROJECT + "[tool.compox]\ntraining_resources = {num_gpus = 1.5}\n", "whole number"),
    (VALID_PROJECT + "[tool.compox]\ntraining_resources = 4\n", "must be a table"),
])
def test_hostile_pyprojects_are_refused_as_invalid_config(tmp_path, pyproject, reason):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(CompoxError) as raised:
        read_package_metadata(tmp_path)
    assert raised.value.code == "invalid_algorithm_config" and reason in raised.value.detail


def test_dots_in_strings_comments_and_numbers_are_not_key_parts(tmp_path):
    dots = "." * 200
    (tmp_path / "pyproject.toml").write_text(
        f"[project]\nname = 'x'\nversion = '1.0.0'  # {dots}\ndescription = \"{dots}\"\n"
        f"[tool.compox]\ndescription = '''{dots}'''\ntags = [\"a.b\", 'c.d']\nweights = [1.5, 2.5, 3.5]\n")
    assert read_package_metadata(tmp_path).manifest.description == dots
