"""Algorithm package folders written on disk (``pyproject.toml`` + ``Runner.py`` + extra files)."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path

# An Image2Image runner that multiplies the slices by the "factor" parameter (default 1.0).
SCALING_RUNNER = '''
import numpy as np
from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def inference(self, data, args=None):
        self.log_message("scaling")
        self.set_progress(0.5)
        return (data * float(args.get("factor", 1.0))).astype(np.float32)
'''

FACTOR_PARAMETER = {"name": "factor", "description": "multiplies the image",
                    "config": {"type": "float_range", "default": 1.0, "min": 0.0, "max": 10.0, "step": 0.5}}


def toml_value(value) -> str:
    """Enough TOML for a pyproject: strings, numbers, booleans, arrays and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def pyproject_text(name: str, version: str, tool_compox: dict) -> str:
    lines = ["[project]", f"name = {toml_value(name)}", f"version = {toml_value(version)}", "", "[tool.compox]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in tool_compox.items()]
    return "\n".join(lines) + "\n"


def make_algorithm_package(tmp_path: Path, name: str = "scaler", version: str = "1.0.0", *,
                           runner: str = SCALING_RUNNER, files: dict[str, str | bytes] | None = None,
                           folder: str | None = None, **tool_compox) -> Path:
    """A package folder under ``tmp_path``; ``tool_compox`` becomes [tool.compox] (a valid Image2Image
    one by default), ``files`` adds {relative path: content}."""
    root = Path(tmp_path) / (folder or f"{name}-{version}")
    root.mkdir(parents=True, exist_ok=True)
    config = {"algorithm_type": "Image2Image", "tags": ["test"], "description": f"{name} for tests",
              "supported_devices": ["cpu", "gpu"], "default_device": "cpu",
              "additional_parameters": [FACTOR_PARAMETER]} | tool_compox
    (root / "pyproject.toml").write_text(pyproject_text(name, version, config))
    if runner is not None:
        (root / "Runner.py").write_text(runner)
    for relative, content in (files or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    """A zip of {member name: content}, names taken literally (for hostile names)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_folder(root: Path, prefix: str = "") -> bytes:
    return zip_bytes({prefix + path.relative_to(root).as_posix(): path.read_bytes()
                      for path in sorted(root.rglob("*")) if path.is_file()})


def zip_entries(entries: list[tuple[str, str | bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip of (member name, content) in order, duplicates kept (zipfile only warns about them)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.simplefilter("ignore", UserWarning)
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def package_entries(root: Path) -> list[tuple[str, bytes]]:
    """(name, content) of every file of a package folder, for zip_entries."""
    return [(path.relative_to(root).as_posix(), path.read_bytes())
            for path in sorted(root.rglob("*")) if path.is_file()]


def with_raw_name(data: bytes, placeholder: str, raw: bytes) -> bytes:
    """The zip ``data`` with a member name's ``placeholder`` (unique in the zip, as long as ``raw``)
    replaced by ``raw`` in its local header and in the central directory: names zipfile cannot write."""
    marker = placeholder.encode("utf-8")
    assert len(marker) == len(raw) and data.count(marker) == 2, "the placeholder must be unique and of equal length"
    return data.replace(marker, raw)
