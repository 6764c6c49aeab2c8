"""Staging a package folder or zip: safe paths only, limits, content hashes, deterministic zips."""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import pytest

from compox_ray.algorithms.package_files import PackageLimits, iter_folder_files, stage_folder, stage_zip
from compox_ray.algorithms.package_zip import write_package_zip
from compox_ray.errors import CompoxError
from tests.factories.packages import (
    make_algorithm_package,
    package_entries,
    with_raw_name,
    zip_bytes,
    zip_entries,
    zip_folder,
)

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


def package_zip(tmp_path: Path, *extra: tuple[str, str | bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A valid package's members followed by ``extra`` ones (names taken literally, duplicates kept)."""
    return zip_entries(package_entries(make_algorithm_package(tmp_path)) + list(extra), compression)


@pytest.mark.parametrize("extra, reason", [
    ([("Runner.py", "class Runner: pass\n")], "holds 'Runner.py' twice"),  # at the root: the same interned str
    ([("files/a.bin", b"1"), ("files/a.bin", b"2")], "holds 'files/a.bin' twice"),
    ([("files/a.bin", b"1"), ("files/./a.bin", b"2")], "holds 'files/a.bin' twice"),
    ([("files/a.bin", b"1"), ("files\\a.bin", b"2")], "holds 'files/a.bin' twice"),
    ([("files/caf\u00e9.txt", b"1"), ("files/cafe\u0301.txt", b"2")], "Unicode normalisation"),
    ([("files/A.bin", b"1"), ("files/a.bin", b"2")], "letter case"),
    ([("files", b"1"), ("files/a.bin", b"2")], "both as a file and as the folder"),
])
def test_members_that_name_one_file_twice_are_refused_before_unpacking(tmp_path, extra, reason):
    error = refused(lambda: stage_zip_bytes(tmp_path, package_zip(tmp_path, *extra)))
    assert (error.status, error.code) == (422, "invalid_algorithm_package") and reason in error.detail
    assert not (tmp_path / "staged").exists()  # refused from the directory alone


@pytest.mark.parametrize("placeholder, raw, reason", [
    ("files/QQ.bin", b"files/\xff\xfe.bin", "not valid UTF-8"),  # a name zip tools did not flag as UTF-8
    ("files/\u00e9.bin", b"files/\xff\xfe.bin", "not valid UTF-8"),  # flagged UTF-8 (zipfile raised there)
    ("Runner.pyQ", b"Runner.py\0", "NUL byte"),  # zipfile would cut the name there: a second Runner.py
])
def test_undecodable_names_and_nul_bytes_are_refused(tmp_path, placeholder, raw, reason):
    data = with_raw_name(package_zip(tmp_path, (placeholder, b"x")), placeholder, raw)
    error = refused(lambda: stage_zip_bytes(tmp_path, data))
    assert (error.status, error.code) == (422, "invalid_algorithm_package") and reason in error.detail


def test_names_written_as_utf8_without_the_flag_keep_their_name(tmp_path):
    """macOS writes UTF-8 names without the UTF-8 flag; zipfile alone would read them as cp437."""
    data = with_raw_name(package_zip(tmp_path, ("files/QQ.txt", b"x")), "files/QQ.txt", "files/\u00e9.txt".encode())
    staged = stage_zip_bytes(tmp_path, data)
    assert "files/\u00e9.txt" in [file.path for file in staged.files]


def eocd_offset(data: bytes) -> int:
    return data.rindex(b"PK\x05\x06")


def test_the_member_count_is_bounded_from_the_end_record_before_zipfile_reads_the_directory(tmp_path):
    # 70,000 entries: past 65,535, so the count is in the zip64 record.
    data = package_zip(tmp_path, *((f"files/{index}", b"") for index in range(70_000)))
    assert b"PK\x06\x06" in data
    error = refused(lambda: stage_zip_bytes(tmp_path, data))
    assert error.code == "invalid_algorithm_package" and "declares 70002 members" in error.detail


def test_an_end_record_that_lies_about_the_directory_is_refused(tmp_path):
    data = bytearray(package_zip(tmp_path))
    at = eocd_offset(data)
    fewer = bytearray(data)
    struct.pack_into("<2H", fewer, at + 8, 1, 1)  # declares 1 member; the directory holds 2
    assert "holds 2 members but declares 1" in refused(lambda: stage_zip_bytes(tmp_path, bytes(fewer))).detail
    larger = bytearray(data)
    struct.pack_into("<L", larger, at + 12, 50 * 2**20)  # a 50 MiB directory in a tiny file
    assert "central directory" in refused(lambda: stage_zip_bytes(tmp_path, bytes(larger))).detail
    many = bytearray(data)
    struct.pack_into("<2H", many, at + 8, 60_000, 60_000)
    assert "declares 60000 members" in refused(lambda: stage_zip_bytes(tmp_path, bytes(many))).detail
    assert refused(lambda: stage_zip_bytes(tmp_path, bytes(data[:at]))).code == "invalid_algorithm_package"


def test_more_members_than_the_limit_in_a_truthful_directory_are_refused(tmp_path):
    data = package_zip(tmp_path, *((f"files/{index}", b"") for index in range(2 * LIMITS.max_files)))
    error = refused(lambda: stage_zip_bytes(tmp_path, data))
    assert f"a package may hold at most {2 * LIMITS.max_files}" in error.detail


def test_compression_ratios_are_bounded_per_member_and_overall(tmp_path):
    roomy = PackageLimits(max_bytes=64 * 2**20, max_files=50)
    one_bomb = package_zip(tmp_path, ("files/zeros.bin", b"\0" * (4 * 2**20)), compression=zipfile.ZIP_DEFLATED)
    error = refused(lambda: stage_zip_bytes(tmp_path, one_bomb, roomy))
    assert error.code == "invalid_algorithm_package" and "files/zeros.bin unpacks to" in error.detail
    # Each member below the grace, together far beyond the ratio.
    many_small = package_zip(tmp_path, *((f"files/{index}.bin", b"\0" * 2**19) for index in range(8)),
                             compression=zipfile.ZIP_DEFLATED)
    assert "The zip unpacks to" in refused(lambda: stage_zip_bytes(tmp_path, many_small, roomy)).detail
    # Ordinary content compressed as well as it goes passes.
    text = package_zip(tmp_path, ("files/notes.txt", "a line of notes\n" * 60_000), compression=zipfile.ZIP_DEFLATED)
    assert "files/notes.txt" in [file.path for file in stage_zip_bytes(tmp_path, text, roomy).files]


def test_damaged_member_data_is_refused(tmp_path):
    data = bytearray(package_zip(tmp_path, ("files/data.bin", b"payload " * 4000), compression=zipfile.ZIP_DEFLATED))
    start = data.index(b"files/data.bin") + len("files/data.bin") + 8
    data[start:start + 64] = b"\xff" * 64  # the deflate stream, not the headers
    error = refused(lambda: stage_zip_bytes(tmp_path, bytes(data)))
    assert error.code == "invalid_algorithm_package" and "cannot be read" in error.detail


def test_a_folder_with_a_symlink_loop_is_refused(tmp_path):
    root = make_algorithm_package(tmp_path)
    os.symlink("loop", root / "loop")
    assert "loops" in refused(lambda: stage_folder(root, tmp_path / "staged", LIMITS)).detail


def test_a_folder_with_names_equal_but_for_case_is_refused(tmp_path):
    root = make_algorithm_package(tmp_path, files={"files/A.bin": b"1", "files/a.bin": b"2"})
    assert "letter case" in refused(lambda: stage_folder(root, tmp_path / "staged", LIMITS)).detail
