"""A package's metadata: ``[project]`` name and version, ``[tool.compox]`` as a validated model.

``version = "X.Y.Z"`` gives the major X (part of the algorithm's identity) and the minor Y used
for the first deploy. ``[tool.compox]`` follows Compox 3.2.0's AlgorithmConfigSchema, stricter
where Compox let a broken package through: a parameter default outside its range or options, a
default device the package does not support, and duplicate parameter names are refused. Keys this
server does not know are kept (``extra="allow"``) so other parts of the server can read them.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from compox_ray.errors import CompoxError
from compox_ray.storable_json import storable_json_problem

ALGORITHM_TYPES = ("Image2Image", "Image2Segmentation", "Image2MultiRegionSegmentation", "Segmentation2Segmentation",
                   "Image2Alignment", "Image2Embedding", "Generic", "Undefined")
PARAMETER_TYPES = ("string", "int", "float", "bool", "int_range", "float_range", "string_enum", "int_enum",
                   "float_enum", "string_list", "int_list", "float_list", "bool_list")
ALGORITHM_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$")
MAJOR_VERSION = re.compile(r"^\d{1,9}$")
MAX_VERSION_NUMBER = 999_999_999  # as MAJOR_VERSION; the minor is a SQLite integer
# A pyproject.toml is a few KiB. tomllib's time and memory grow with the square of a dotted key's
# parts (20,000 parts, a 40 KB file, took 1.5 GB), and it recurses once per nested array or inline
# table: both are bounded before it parses.
MAX_PYPROJECT_BYTES = 2**20
MAX_KEY_PARTS = 64
# Where a string or comment starts, or a dotted key gains or ends a part.
_TOML_SPECIAL = re.compile(r"[\"'#.=,{}\[\]\n]")
# A quick, linear pre-filter: as many dots with no key or value end between them, strings included.
_MANY_DOTS = re.compile(r"(?:\.[^.=,{}\[\]\n]*){%d}" % MAX_KEY_PARTS)

Scalar = Union[bool, int, float, str]


def element_type(parameter_type: str) -> type:
    """The Python type of one value: "float_range" -> float, "bool_list" -> bool."""
    base = parameter_type.split("_")[0]
    return {"string": str, "int": int, "float": float, "bool": bool}[base]


def type_phrase(expected: type) -> str:
    return {int: "an int", float: "a float", str: "a string", bool: "a bool"}[expected]


def matches_type(value: Any, expected: type) -> bool:
    """bool is not an int here, and an int is a valid float (TOML and JSON write 1 for 1.0)."""
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


class ParameterConfigSchema(BaseModel):
    type: Literal[PARAMETER_TYPES]  # type: ignore[valid-type]
    default: Union[Scalar, list[Scalar], None] = None
    adjustable: bool = False
    options: list[Union[Scalar, list[Scalar]]] = Field(default_factory=list)
    min: Union[int, float, None] = None
    max: Union[int, float, None] = None
    step: Union[int, float, None] = None
    decimal_precision: int | None = None

    @property
    def kind(self) -> str:
        """"scalar", "range", "enum" or "list"."""
        suffix = self.type.rsplit("_", 1)[-1] if "_" in self.type else ""
        return {"range": "range", "enum": "enum", "list": "list"}.get(suffix, "scalar")


class AdditionalParameterSchema(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    displayed_name: str = ""
    description: str = ""
    config: ParameterConfigSchema

    @model_validator(mode="after")
    def _consistent(self) -> AdditionalParameterSchema:
        if not self.displayed_name:
            words = re.sub(r"[\s_-]+", " ", self.name).strip()
            self.displayed_name = words[:1].upper() + words[1:] if words else self.name
        config, name = self.config, self.name
        expected = element_type(config.type)
        if config.decimal_precision is not None:
            if config.decimal_precision < 0:
                raise ValueError(f"parameter {name!r}: decimal_precision must be 0 or more")
            if expected is not float:
                raise ValueError(f"parameter {name!r}: decimal_precision applies to float types only")
        if config.kind == "list":
            self._check_list(expected)
        elif config.default is not None and not matches_type(config.default, expected):
            raise ValueError(f"parameter {name!r}: default {config.default!r} is not {type_phrase(expected)} "
                             f"as type {config.type!r} requires")
        if config.kind == "range":
            self._check_range(expected)
        if config.kind == "enum":
            self._check_enum(expected)
        if expected is float and isinstance(config.default, int):
            config.default = float(config.default)
        return self

    def _check_range(self, expected: type) -> None:
        config, name = self.config, self.name
        bounds = {"min": config.min, "max": config.max, "step": config.step}
        missing = [key for key, value in bounds.items() if value is None]
        if missing:
            raise ValueError(f"parameter {name!r}: range type {config.type!r} needs {', '.join(missing)}")
        wrong = [key for key, value in bounds.items() if not matches_type(value, expected)]
        if wrong:
            raise ValueError(f"parameter {name!r}: {', '.join(wrong)} must be {type_phrase(expected)} "
                             f"for {config.type!r}")
        if config.min >= config.max:
            raise ValueError(f"parameter {name!r}: min {config.min} must be less than max {config.max}")
        if config.step <= 0:
            raise ValueError(f"parameter {name!r}: step must be positive")
        if config.default is not None and not config.min <= config.default <= config.max:
            raise ValueError(f"parameter {name!r}: default {config.default} is outside its range "
                             f"[{config.min}, {config.max}]")

    def _check_enum(self, expected: type) -> None:
        config, name = self.config, self.name
        if not config.options:
            raise ValueError(f"parameter {name!r}: enum type {config.type!r} needs options")
        if not all(matches_type(option, expected) for option in config.options):
            raise ValueError(f"parameter {name!r}: every option must be {type_phrase(expected)} for {config.type!r}")
        if config.default is None:
            config.default = config.options[0]
        elif config.default not in config.options:
            raise ValueError(f"parameter {name!r}: default {config.default!r} is not one of its options "
                             f"{config.options}")

    def _check_list(self, expected: type) -> None:
        config, name = self.config, self.name
        if config.default is not None and (not isinstance(config.default, list)
                                           or not all(matches_type(item, expected) for item in config.default)):
            raise ValueError(f"parameter {name!r}: default must be a list of {expected.__name__} values "
                             f"for {config.type!r}")
        for option in config.options:
            items = option if isinstance(option, list) else [option]
            if not all(matches_type(item, expected) for item in items):
                raise ValueError(f"parameter {name!r}: options must hold {expected.__name__} values "
                                 f"for {config.type!r}")


def training_resources_problem(resources: Any) -> str | None:
    """What Ray would refuse (or fail on) in ``training_resources``, or None: a training whose task
    cannot even be submitted would stay PENDING."""
    if not isinstance(resources, dict):
        return "training_resources must be a table such as {num_gpus = 0.25, num_cpus = 1}"
    for key in ("num_cpus", "num_gpus"):
        value = resources.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
            return f"training_resources.{key} must be a number of at least 0"
    gpus = resources.get("num_gpus", 0)
    if gpus > 1 and gpus != int(gpus):
        return "training_resources.num_gpus above 1 must be a whole number (Ray's rule)"
    return None


class AlgorithmConfigSchema(BaseModel):
    """``[tool.compox]`` of a package's pyproject.toml."""

    model_config = ConfigDict(extra="allow")

    algorithm_type: Literal[ALGORITHM_TYPES] = "Undefined"  # type: ignore[valid-type]
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    supported_devices: list[Literal["cpu", "gpu", "mps"]] = Field(default_factory=lambda: ["cpu"])
    default_device: Literal["cpu", "gpu", "mps", ""] = "cpu"
    additional_parameters: list[AdditionalParameterSchema] = Field(default_factory=list)
    training_parameters: list[AdditionalParameterSchema] = Field(default_factory=list)
    benchmark_outputs: list[AdditionalParameterSchema] = Field(default_factory=list)  # what benchmark() reports
    removable: bool = False
    exportable: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> AlgorithmConfigSchema:
        if self.default_device not in self.supported_devices:
            raise ValueError(f"default_device {self.default_device!r} is not among supported_devices "
                             f"{self.supported_devices}")
        resources = (self.model_extra or {}).get("training_resources")
        if resources is not None and (problem := training_resources_problem(resources)):
            raise ValueError(problem)
        for group in ("additional_parameters", "training_parameters", "benchmark_outputs"):
            names = [parameter.name for parameter in getattr(self, group)]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValueError(f"{group} declares {', '.join(duplicates)} more than once")
        return self

    # Read like the dict that the records hold, too (manifest["supported_devices"]).
    def __getitem__(self, key: str) -> Any:
        return self.model_dump()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.model_dump().get(key, default)


@dataclass(frozen=True)
class PackageMetadata:
    name: str
    version: str
    major: str
    minor: int
    manifest: AlgorithmConfigSchema


def invalid_package(detail: str, **details) -> CompoxError:
    return CompoxError(422, "invalid_algorithm_package", detail, **details)


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def parse_manifest(tool_compox: dict) -> AlgorithmConfigSchema:
    try:
        return AlgorithmConfigSchema.model_validate(tool_compox)
    except ValidationError as error:
        raise CompoxError(422, "invalid_algorithm_config",
                          f"[tool.compox] is invalid: {_describe_validation_error(error)}") from None


def _has_long_dotted_key(text: str) -> bool:
    """Whether a dotted key (or table header) has more than MAX_KEY_PARTS parts, counted outside
    strings and comments. One pass: each character is looked at once, whatever the text."""
    if not _MANY_DOTS.search(text):
        return False
    parts = 1
    position = 0
    while special := _TOML_SPECIAL.search(text, position):
        char, position = special.group(), special.end()
        if char in "\"'":
            if text.startswith(char * 3, special.start()):
                end = text.find(char * 3, special.start() + 3)
                position = len(text) if end < 0 else end + 3
                continue
            while position < len(text) and text[position] not in (char, "\n"):
                position += 2 if char == '"' and text[position] == "\\" else 1
            position += 1
        elif char == "#":
            end = text.find("\n", position)
            position = len(text) if end < 0 else end
        elif char == ".":
            parts += 1
            if parts > MAX_KEY_PARTS:
                return True
        else:
            parts = 1
    return False


def _parse_pyproject(pyproject_path: Path) -> dict:
    if pyproject_path.stat().st_size > MAX_PYPROJECT_BYTES:
        raise CompoxError(422, "invalid_algorithm_config",
                          f"pyproject.toml is larger than {MAX_PYPROJECT_BYTES} bytes.")
    try:
        text = pyproject_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise invalid_package(f"pyproject.toml is not valid TOML: {error}") from None
    if _has_long_dotted_key(text):
        raise CompoxError(422, "invalid_algorithm_config",
                          f"pyproject.toml has a dotted key of more than {MAX_KEY_PARTS} parts.")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise invalid_package(f"pyproject.toml is not valid TOML: {error}") from None
    except RecursionError:
        raise CompoxError(422, "invalid_algorithm_config",
                          "pyproject.toml nests arrays or inline tables too deeply.") from None


def read_package_metadata(root: Path) -> PackageMetadata:
    """Parse and check ``root/pyproject.toml``; CompoxError 422 naming what is wrong."""
    pyproject_path = Path(root) / "pyproject.toml"
    if not pyproject_path.is_file():
        raise invalid_package("The package has no pyproject.toml at its root.")
    pyproject = _parse_pyproject(pyproject_path)
    project = pyproject.get("project")
    if not isinstance(project, dict):
        raise invalid_package("pyproject.toml has no [project] table.")
    name, version = project.get("name"), project.get("version")
    if not isinstance(name, str) or not ALGORITHM_NAME.match(name):
        raise invalid_package(f"[project] name {name!r} is missing or invalid: use letters, digits, '.', '_', '-'.")
    if not isinstance(version, str):
        raise invalid_package("[project] version is missing; write it as \"X.Y.Z\".")
    try:
        release = Version(version).release
    except InvalidVersion:
        raise invalid_package(f"[project] version {version[:100]!r} is not a version such as \"1.2.0\".") from None
    if any(number > MAX_VERSION_NUMBER for number in release[:2]):
        raise invalid_package(f"[project] version {version[:100]!r}: the major and minor numbers have at most "
                              "9 digits.")
    tool = pyproject.get("tool", {})
    tool_compox = tool.get("compox", {}) if isinstance(tool, dict) else None
    if not isinstance(tool_compox, dict):
        raise CompoxError(422, "invalid_algorithm_config", "[tool.compox] must be a table.")
    if problem := storable_json_problem(tool_compox):  # it is stored as JSON and answered again
        raise CompoxError(422, "invalid_algorithm_config", f"[tool.compox] is invalid: {problem}.")
    return PackageMetadata(name=name, version=version, major=str(release[0]),
                           minor=release[1] if len(release) > 1 else 0, manifest=parse_manifest(tool_compox))
