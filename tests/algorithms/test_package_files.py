"""Staging a package folder or zip: safe paths only, limits, content hashes, deterministic zips."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from compox_ray.algorithms.package_files import PackageLimits, iter_folder_files, stage_folder, stage_zip
from compox_ray.algorithms.package_zip import write_package_zip
from compox_ray.errors import CompoxError
from tests.factories.packages import make_algorithm_package, zip_bytes, zip_folder

LIMITS = PackageLimits(max_bytes=2**20, max_files=50)


def stage_zip_bytes(tmp_path: Path, data: bytes, limits: PackageLimits = LIMITS):
    archive = tmp_path / "upload.zip"
    archive.write_bytes(data)
    return stage_zip(archive, tmp_path / "staged", limits)


def refused(call) -> CompoxError:
    with pytest.raises(CompoxError) as raised:
        call()
    return raised.value


def test_folder_and_its_zip_stage_to_the_same_content(tmp_path):
    root = make_algorithm_package(tmp_path, files={"helpers/utils.py": "X = 1\n", "files/w.bin": b"\0\1"})
    from_folder = stage_folder(root, tmp_path / "a", LIMITS)
    from_zip = stage_zip_bytes(tmp_path, zip_folder(root, prefix="scaler/"))  # a zip of the folder itself
    assert from_folder.digest == from_zip.digest
    assert [file.path for file in from_folder.files] == ["Runner.py", "files/w.bin", "helpers/utils.py",
                                                         "pyproject.toml"]
    assert from_folder.metadata.name == "scaler"


def test_caches_and_vcs_folders_do_not_change_the_digest(tmp_path):
    root = make_algorithm_package(tmp_path)
    before = stage_folder(root, tmp_path / "a", LIMITS).digest
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "Runner.cpython-311.pyc").write_bytes(b"cache")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / ".DS_Store").write_bytes(b"x")
    assert stage_folder(root, tmp_path / "b", LIMITS).digest == before
    (root / "Runner.py").write_text((root / "Runner.py").read_text() + "\n# changed\n")
    assert stage_folder(root, tmp_path / "c", LIMITS).digest != before


def test_export_zip_is_deterministic(tmp_path):
    root = make_algorithm_package(tmp_path, files={"files/w.bin": b"1" * 1000})
    write_package_zip(iter_folder_files(root), tmp_path / "one.zip")
    os.utime(root / "Runner.py", (1, 1))
    write_package_zip(iter_folder_files(root), tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert zipfile.ZipFile(tmp_path / "one.zip").namelist() == ["Runner.py", "files/w.bin", "pyproject.toml"]


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "C:/evil.py", "..\\evil.py"])
def test_zip_members_that_leave_the_package_are_refused(tmp_path, member):
    root = make_algorithm_package(tmp_path)
    members = {path.name: path.read_bytes() for path in root.iterdir()} | {member: b"x"}
    error = refused(lambda: stage_zip_bytes(tmp_path, zip_bytes(members)))
    assert (error.status, error.code) == (422, "invalid_algorithm_package") and "unsafe path" in error.detail
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()


def test_zip_symlink_members_are_refused(tmp_path):
    root = make_algorithm_package(tmp_path)
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in root.iterdir():
            out.write(path, path.name)
        link = zipfile.ZipInfo("files/passwd")
        link.external_attr = (0o120777 << 16)
        out.writestr(link, "/etc/passwd")
    error = refused(lambda: stage_zip(archive, tmp_path / "staged", LIMITS))
    assert "symlink" in error.detail


def test_folder_symlink_out_of_the_package_is_refused(tmp_path):
    root = make_algorithm_package(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (root / "files").mkdir()
    os.symlink(secret, root / "files" / "secret.txt")
    error = refused(lambda: stage_folder(root, tmp_path / "staged", LIMITS))
    assert "points outside" in error.detail
    (root / "files" / "secret.txt").unlink()
    os.symlink(tmp_path, root / "files" / "everything")
    assert "points outside" in refused(lambda: stage_folder(root, tmp_path / "staged2", LIMITS)).detail


def test_symlinks_inside_the_package_are_followed(tmp_path):
    root = make_algorithm_package(tmp_path, files={"files/real.bin": b"data"})
    os.symlink(root / "files" / "real.bin", root / "files" / "alias.bin")
    staged = stage_folder(root, tmp_path / "staged", LIMITS)
    assert (staged.root / "files" / "alias.bin").read_bytes() == b"data"


def test_size_and_count_limits(tmp_path):
    root = make_algorithm_package(tmp_path, files={"files/big.bin": os.urandom(4096)})
    error = refused(lambda: stage_folder(root, tmp_path / "a", PackageLimits(max_bytes=2048, max_files=50)))
    assert (error.status, error.code) == (413, "payload_too_large")
    error = refused(lambda: stage_zip_bytes(tmp_path, zip_folder(root), PackageLimits(max_bytes=2048, max_files=50)))
    assert (error.status, error.code) == (413, "payload_too_large")
    error = refused(lambda: stage_folder(root, tmp_path / "b", PackageLimits(max_bytes=2**20, max_files=2)))
    assert error.code == "invalid_algorithm_package" and "more than 2 files" in error.detail


def test_a_zip_bomb_stops_at_the_limit(tmp_path):
    root = make_algorithm_package(tmp_path)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for path in root.iterdir():
            out.write(path, path.name)
        out.writestr("files/zeros.bin", b"\0" * (8 * 2**20))
    assert archive.stat().st_size < 2**20
    assert refused(lambda: stage_zip(archive, tmp_path / "staged", LIMITS)).status == 413


@pytest.mark.parametrize("damage, reason", [
    ("no_runner", "no Runner.py"),
    ("no_pyproject", "no pyproject.toml"),
    ("case_clash", "differ only by letter case"),
    ("not_a_zip", "not a readable zip"),
])
def test_broken_packages_are_refused(tmp_path, damage, reason):
    root = make_algorithm_package(tmp_path)
    members = {path.name: path.read_bytes() for path in root.iterdir()}
    if damage == "no_runner":
        del members["Runner.py"]
    elif damage == "no_pyproject":
        del members["pyproject.toml"]
    elif damage == "case_clash":
        members |= {"files/A.bin": b"1", "files/a.bin": b"2"}
    data = b"PK not a zip" if damage == "not_a_zip" else zip_bytes(members)
    error = refused(lambda: stage_zip_bytes(tmp_path, data))
    assert error.status == 422 and reason in error.detail
