"""Installed as operators install it (`pip install .`, what cluster.yaml runs), compox_ray carries
every module, its migrations and the bundled algorithm packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def test_every_package_of_compox_ray_is_listed_for_the_wheel():
    listed = set(tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(REPOSITORY).parts) for init in (REPOSITORY / "compox_ray").rglob(
        "__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


@pytest.mark.slow
def test_a_wheel_install_serves_the_bundled_algorithms(tmp_path):
    # Built from a copy: setuptools leaves build/ and *.egg-info in the tree it builds.
    source = shutil.copytree(REPOSITORY, tmp_path / "source", ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".pytest_cache", "benchmarks"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source),
                    "-w", str(tmp_path / "wheel")], check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("compox_ray-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "compox_ray/storage/migrations/0001_files.sql" in names
    assert not [name for name in names if "__pycache__" in name]
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    # The installed copy, not this checkout: run from elsewhere with the target first on the path.
    probe = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from compox_ray.settings import Settings; print(Settings().algorithms_dir)", str(site)],
        check=True, capture_output=True, text=True, cwd=tmp_path)
    bundled = Path(probe.stdout.strip())
    assert bundled.is_relative_to(site)
    for name in ("denoise_3d", "threshold_segmentation", "unet3d_denoiser"):
        assert (bundled / name / "Runner.py").is_file() and (bundled / name / "pyproject.toml").is_file()
    assert (bundled / "unet3d_denoiser" / "files" / "weights.pt").read_bytes() == (
        REPOSITORY / "algorithms" / "unet3d_denoiser" / "files" / "weights.pt").read_bytes()
