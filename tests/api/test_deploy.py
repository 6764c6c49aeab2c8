"""Deploying packages over HTTP (zip body, server-side path, async job, CLI) and refusing bad ones
with a 4xx that leaves the registry as it was. Real Ray + Serve + SQLite + blob store (local and S3)."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import time
import zipfile

import pytest

from compox_ray.cli import main as cli_main
from tests.api.algorithm_packages import deploy, deployed, registry, unique_name
from tests.factories.packages import (
    make_algorithm_package,
    package_entries,
    with_raw_name,
    zip_bytes,
    zip_entries,
    zip_folder,
)


def test_versions_follow_content(client, tmp_path):
    name = unique_name()
    first = deployed(client, make_algorithm_package(tmp_path, name=name, version="2.4.1"))
    assert {k: first[k] for k in ("algorithm_name", "algorithm_major_version", "algorithm_minor_version")} == {
        "algorithm_name": name, "algorithm_major_version": "2", "algorithm_minor_version": "4"}

    again = deployed(client, make_algorithm_package(tmp_path, name=name, version="2.4.1", folder="copy"))
    assert again == first  # identical content: nothing added, the existing version answers

    changed = deployed(client, make_algorithm_package(tmp_path, name=name, version="2.4.1", folder="changed",
                                                      files={"files/extra.txt": "new asset"}))
    assert changed["algorithm_id"] == first["algorithm_id"] and changed["algorithm_minor_version"] == "5"
    other_major = deployed(client, make_algorithm_package(tmp_path, name=name, version="3.0.0"))
    assert other_major["algorithm_id"] != first["algorithm_id"]

    record = client.get(f"/api/v0/algorithm/{name}/2").json()
    assert record["algorithm_minor_versions"] == ["4", "5"]
    assert record["latest_algorithm_minor_version"] == record["algorithm_minor_version"] == "5"


def test_deploy_from_a_server_path_folder_or_zip_with_overrides(client, server, tmp_path):
    drop = server.settings.deploy_allowed_dirs[0]
    drop.mkdir(parents=True, exist_ok=True)
    name = unique_name()
    folder = shutil.copytree(make_algorithm_package(tmp_path, name=name, version="1.0.0"), drop / name)
    response = client.post("/api/v0/deploy/local", params={"path": str(folder)})
    assert response.status_code == 200, response.text
    assert response.json()["algorithm_name"] == name

    archive = drop / f"{name}.zip"
    archive.write_bytes(zip_folder(make_algorithm_package(tmp_path, name=name, version="1.0.0", folder="z",
                                                          files={"files/w.bin": b"w"})))
    response = client.post("/api/v0/deploy/local", params={
        "path": archive.name,  # relative: inside the first allowed directory
        "algorithm_name": f"{name}-renamed", "algorithm_major_version": "7", "removable": "true",
        "exportable": "false"})
    assert response.status_code == 200, response.text
    renamed = client.get(f"/api/v0/algorithm/{name}-RENAMED/7").json()
    assert (renamed["algorithm_version"], renamed["removable"], renamed["exportable"]) == ("7", True, False)


@pytest.mark.parametrize("path, status, code", [
    ("/etc/passwd", 400, "deploy_path_not_allowed"),
    ("../../..", 400, "deploy_path_not_allowed"),
    ("no-such-package", 400, "deploy_path_not_found"),
    ("notes.txt", 400, "invalid_deploy_path_type"),
])
def test_bad_server_paths(client, server, path, status, code):
    drop = server.settings.deploy_allowed_dirs[0]
    drop.mkdir(parents=True, exist_ok=True)
    (drop / "notes.txt").write_text("not a package")
    for route in ("/api/v0/deploy/local", "/api/v0/deploy/local-async"):
        response = client.post(route, params={"path": path})
        assert (response.status_code, response.json()["code"]) == (status, code), response.text


def test_async_deploy_job(client, server, tmp_path):
    drop = server.settings.deploy_allowed_dirs[0]
    drop.mkdir(parents=True, exist_ok=True)
    name = unique_name()
    good = shutil.copytree(make_algorithm_package(tmp_path, name=name), drop / name)
    bad = shutil.copytree(make_algorithm_package(tmp_path, name=f"{name}x", algorithm_type="Image2Sound"),
                          drop / f"{name}x")
    jobs = {label: client.post("/api/v0/deploy/local-async", params={"path": str(path)}).json()["deploy_id"]
            for label, path in (("good", good), ("bad", bad))}

    def finished(deploy_id: str) -> dict:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            record = client.get(f"/api/v0/deploy/{deploy_id}").json()
            if record["status"] in ("COMPLETED", "FAILED"):
                return record
            assert record["status"] in ("PENDING", "RUNNING")
            time.sleep(0.2)
        raise TimeoutError(deploy_id)

    good_record, bad_record = finished(jobs["good"]), finished(jobs["bad"])
    assert good_record["status"] == "COMPLETED" and good_record["algorithm_name"] == name
    assert good_record["algorithm_minor_version"] == "0" and good_record["time_completed"]
    assert bad_record["status"] == "FAILED" and bad_record["log"].startswith("invalid_algorithm_config:")
    assert client.get(f"/api/v0/deploy/{jobs['good']}x").json()["code"] == "deploy_record_not_found"


BROKEN_RUNNER = "import numpy\nraise ImportError('the model library is missing')\n"


@pytest.mark.parametrize("case, status, code, detail", [
    ("no_runner", 422, "invalid_algorithm_package", "no Runner.py"),
    ("unknown_type", 422, "invalid_algorithm_config", "algorithm_type"),
    ("default_out_of_range", 422, "invalid_algorithm_config", "outside its range"),
    ("device_not_supported", 422, "invalid_algorithm_config", "default_device"),
    ("runner_does_not_import", 422, "algorithm_import_failed", "the model library is missing (Runner.py, line 2)"),
    ("abstract_runner", 422, "invalid_algorithm_package", "does not implement inference"),
    ("zip_slip", 422, "invalid_algorithm_package", "unsafe path"),
    ("not_a_zip", 422, "invalid_algorithm_package", "not a readable zip"),
    ("empty_body", 422, "invalid_algorithm_package", "empty"),
])
def test_bad_packages_are_refused_and_leave_the_registry_unchanged(client, tmp_path, case, status, code, detail):
    name = unique_name()
    options = {
        "unknown_type": {"algorithm_type": "Image2Sound"},
        "default_out_of_range": {"additional_parameters": [{"name": "n", "config": {
            "type": "int_range", "default": 99, "min": 0, "max": 10, "step": 1}}]},
        "device_not_supported": {"supported_devices": ["cpu"], "default_device": "gpu"},
        "runner_does_not_import": {"runner": BROKEN_RUNNER},
        "abstract_runner": {"runner": "from compox.algorithm_utils.BaseRunner import BaseRunner\n"
                                      "class Runner(BaseRunner):\n    def preprocess(self, d, a=None): return d\n"},
        "no_runner": {"runner": None},
    }.get(case, {})
    folder = make_algorithm_package(tmp_path, name=name, **options)
    body = {"not_a_zip": b"definitely not a zip", "empty_body": b""}.get(case)
    if case == "zip_slip":
        body = zip_bytes({path.name: path.read_bytes() for path in folder.iterdir()} | {"../../x.py": "1"})
    before = registry(client)
    response = (client.post("/api/v0/deploy", content=body, headers={"Content-Type": "application/zip"})
                if body is not None else deploy(client, folder))
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert detail in response.json()["detail"]
    assert registry(client) == before


def test_package_code_is_imported_in_a_ray_task_not_in_the_api_replica(client, tmp_path):
    marker = tmp_path / "imported.json"
    runner = (f"import json, os, ray\ncontext = ray.get_runtime_context()\n"
              f"open({str(marker)!r}, 'w').write(json.dumps({{'actor': context.get_actor_id(), "
              f"'task': context.get_task_id(), 'pid': os.getpid()}}))\n"
              "from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner\n"
              "class Runner(Image2ImageRunner):\n    def inference(self, data, args=None): return data\n")
    deployed(client, make_algorithm_package(tmp_path, name=unique_name(), runner=runner))
    where = json.loads(marker.read_text())
    assert where["actor"] is None and where["task"] is not None  # a task, not an actor such as an Api replica


def test_cli_deploys_folders_and_zips(server, client, tmp_path, capsys):
    folder = make_algorithm_package(tmp_path, name=unique_name())
    archive = tmp_path / "packaged.zip"
    archive.write_bytes(zip_folder(make_algorithm_package(tmp_path, name=unique_name(), version="4.2.0")))
    assert cli_main(["deploy", str(folder), str(archive), "--url", server.url, "--removable"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == ["deployed", "deployed"] and " v4.2 " in printed[1]
    assert client.get(f"/api/v0/algorithm/{folder.name.split('-')[0]}/1").json()["removable"] is True

    broken = make_algorithm_package(tmp_path, name=unique_name(), algorithm_type="Nope")
    assert cli_main(["deploy", str(broken), "--url", server.url]) == 3  # the server refused it
    assert "invalid_algorithm_config" in capsys.readouterr().err


def hostile_zip(case: str, folder) -> bytes:
    members = package_entries(folder)
    if case == "duplicate_root_member":  # the same name twice at the root (a deploy once answered 500)
        return zip_entries(members + [("Runner.py", "class Runner: pass\n")])
    if case == "invalid_utf8_name":
        return with_raw_name(zip_entries(members + [("files/QQ.bin", b"x")]), "files/QQ.bin", b"files/\xff\xfe.bin")
    if case == "nul_in_name":
        return with_raw_name(zip_entries(members + [("Runner.pyQ", b"x")]), "Runner.pyQ", b"Runner.py\0")
    if case == "symlink_member":
        link = zipfile.ZipInfo("files/passwd")
        link.external_attr = 0o120777 << 16
        buffer = io.BytesIO(zip_entries(members))
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr(link, "/etc/passwd")
        return buffer.getvalue()
    if case == "absolute_member":
        return zip_entries(members + [("/etc/cron.d/x", b"x")])
    if case == "member_count_lie":
        data = bytearray(zip_entries(members))
        struct.pack_into("<2H", data, data.rindex(b"PK\x05\x06") + 8, 65_000, 65_000)
        return bytes(data)
    if case == "zip_bomb":
        return zip_entries(members + [("files/zeros.bin", b"\0" * (8 * 2**20))], zipfile.ZIP_DEFLATED)
    raise ValueError(case)


@pytest.mark.parametrize("case, status, code, detail", [
    ("duplicate_root_member", 422, "invalid_algorithm_package", "holds 'Runner.py' twice"),
    ("invalid_utf8_name", 422, "invalid_algorithm_package", "not valid UTF-8"),
    ("nul_in_name", 422, "invalid_algorithm_package", "NUL byte"),
    ("symlink_member", 422, "invalid_algorithm_package", "symlink"),
    ("absolute_member", 422, "invalid_algorithm_package", "unsafe path"),
    ("member_count_lie", 422, "invalid_algorithm_package", "declares 65000 members"),
    ("zip_bomb", 422, "invalid_algorithm_package", "zip bomb"),
])
def test_hostile_zips_are_refused_with_a_code(client, tmp_path, case, status, code, detail):
    before = registry(client)
    body = hostile_zip(case, make_algorithm_package(tmp_path, name=unique_name()))
    response = client.post("/api/v0/deploy", content=body, headers={"Content-Type": "application/zip"})
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert detail in response.json()["detail"]
    assert registry(client) == before


@pytest.mark.parametrize("case, detail", [
    ("deep_arrays", "too deeply"),
    ("long_dotted_key", "dotted key"),
    ("nan_default", "not JSON numbers"),
    ("date_value", "not a JSON value"),
])
def test_hostile_pyprojects_are_refused_as_invalid_config(client, tmp_path, case, detail):
    folder = make_algorithm_package(tmp_path, name=unique_name())
    text = (folder / "pyproject.toml").read_text()
    text += {"deep_arrays": "nested = " + "[" * 5000 + "]" * 5000 + "\n",
             "long_dotted_key": "x." * 50_000 + "y = 1\n",
             "nan_default": "weight = nan\n",
             "date_value": "released = 2026-01-01T00:00:00Z\n"}[case]
    (folder / "pyproject.toml").write_text(text)
    before = registry(client)
    response = deploy(client, folder)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_algorithm_config"), response.text
    assert detail in response.json()["detail"]
    assert registry(client) == before


def test_hostile_server_paths_are_400(client, server, tmp_path):
    drop = server.settings.deploy_allowed_dirs[0]
    drop.mkdir(parents=True, exist_ok=True)
    loop = drop / f"loop-{unique_name()}"
    os.symlink(loop.name, loop)
    for route in ("/api/v0/deploy/local", "/api/v0/deploy/local-async"):
        for path in ("\0", f"{drop}/x\0y", "a" * 5000, f"{'a' * 300}/b", str(loop)):
            response = client.post(route, params={"path": path})
            assert (response.status_code, response.json()["code"]) == (400, "deploy_path_not_found"), response.text


def test_a_folder_with_a_symlink_loop_is_refused(client, server, tmp_path):
    drop = server.settings.deploy_allowed_dirs[0]
    drop.mkdir(parents=True, exist_ok=True)
    name = unique_name()
    folder = shutil.copytree(make_algorithm_package(tmp_path, name=name), drop / name)
    os.symlink("loop", folder / "loop")
    response = client.post("/api/v0/deploy/local", params={"path": str(folder)})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_algorithm_package"), response.text
    assert "loops" in response.json()["detail"]
