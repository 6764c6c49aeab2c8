"""``compox-ray`` client commands: output, exit codes (0 done, 1 run failed, 2 usage, 3 server
error) and one-line errors; in-process through main(argv), and as a real process where it matters
(--help, environment variables, Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest

from compox_ray.cli import main
from tests.client.conftest import RUNTIME_PACKAGES, volume

COMMANDS = ["serve", "deploy", "algorithms", "run", "status", "stop", "sample", "train", "checkpoints", "export",
            "debug"]


def item_files(folder: Path, data: np.ndarray, key: str = "image") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, plane in enumerate(data):
        path = folder / f"slice_{index:03d}.h5"
        with h5py.File(path, "w") as item:
            item.create_dataset(key, data=plane)
        paths.append(str(path))
    return paths


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("compox-ray: error: ")]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "compox_ray.cli", command, "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and f"usage: compox-ray {command}" in result.stdout


def test_run_saves_the_outputs_and_exit_codes_follow_the_outcome(capsys, local_server, test_algorithms, tmp_path,
                                                                   compox):
    data = volume(21)
    inputs = item_files(tmp_path / "in", data)
    code, out, err = cli(capsys, "run", "test_invert", *inputs, "-p", "offset=1.5", "-p", "mode=invert",
                         "-o", str(tmp_path / "out"), "--url", local_server.url)
    assert code == 0, err
    assert out.startswith("execution ") and f"{len(inputs)} output(s) -> {tmp_path / 'out'}" in out
    assert "100%" in err  # the progress bar, on stderr
    saved = sorted((tmp_path / "out").iterdir())
    assert [path.name for path in saved] == [f"output_{i:04d}.h5" for i in range(len(inputs))]
    with h5py.File(saved[2]) as item:
        np.testing.assert_allclose(item["image"][()], data[2].max() - data[2] + 1.5, rtol=1e-6)

    file_id = compox.upload(data[0])
    code, out, err = cli(capsys, "run", "test_invert", file_id, "-q", "--json", "--url", local_server.url)
    record = json.loads(out)
    assert code == 0 and record["status"] == "COMPLETED" and record["input_dataset_ids"] == [file_id]
    assert "100%" not in err  # -q: no progress bar

    code, out, err = cli(capsys, "run", "test_raiser", inputs[0], "-q", "--url", local_server.url)
    assert code == 1 and out == ""
    assert len(error_lines(err)) == 1 and "FAILED" in err and "deliberate failure" in err

    code, _, err = cli(capsys, "run", "no_such_algorithm", inputs[0], "--url", local_server.url)
    assert code == 3 and error_lines(err) == ["compox-ray: error: 404 algorithm_not_found: "
                                              "No algorithm named 'no_such_algorithm' is deployed."]
    code, _, err = cli(capsys, "run", "test_invert", inputs[0], "-p", "offset=99", "--url", local_server.url)
    assert code == 3 and "422 invalid_parameters" in err
    code, _, err = cli(capsys, "run", "test_invert", inputs[0], "-p", "offset", "--url", local_server.url)
    assert code == 2 and "is not key=value" in err
    code, _, err = cli(capsys, "run", "test_invert", str(tmp_path / "absent.h5"), "--url", local_server.url)
    assert code == 2 and "is neither a file nor a file id" in err


def test_no_wait_status_and_stop(capsys, local_server, test_algorithms, tmp_path):
    inputs = item_files(tmp_path / "in", volume()[:1])
    code, out, _ = cli(capsys, "run", "test_slow_steps", *inputs, "-p", "steps=400", "-p", "delay_s=0.05",
                       "--no-wait", "--url", local_server.url)
    execution_id = out.strip()
    assert code == 0 and len(execution_id) == 36
    code, out, _ = cli(capsys, "status", execution_id, "--url", local_server.url)
    assert code == 0 and out.startswith(f"execution {execution_id} ")
    code, out, _ = cli(capsys, "stop", execution_id, "--url", local_server.url)
    assert code == 0 and out.strip() == "Stop request posted successfully"
    deadline = time.monotonic() + 60
    while True:
        code, out, _ = cli(capsys, "status", execution_id, "--json", "--url", local_server.url)
        if json.loads(out)["status"] == "STOPPED":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert code == 1  # a stopped run's status exits 1, as a failed one's
    code, out, _ = cli(capsys, "status", execution_id, "--url", local_server.url)
    assert code == 1 and "STOPPED" in out and "Stop requested" in out  # its log comes with it
    code, _, err = cli(capsys, "stop", execution_id, "--url", local_server.url)
    assert code == 3 and "execution_not_stoppable" in err
    code, _, err = cli(capsys, "status", str(uuid.uuid4()), "--url", local_server.url)
    assert code == 3 and "run_not_found" in err


def test_algorithms_deploy_checkpoints_sample_train_export(capsys, local_server, tmp_path):
    from tests.factories.packages import make_algorithm_package

    code, out, _ = cli(capsys, "algorithms", "--tag", "trainable", "--url", local_server.url)
    assert code == 0 and out.split()[0] == "unet3d_denoiser" and len(out.splitlines()) == 1
    code, out, _ = cli(capsys, "algorithms", "--json", "--url", local_server.url)
    assert "denoise_3d" in {a["algorithm_name"] for a in json.loads(out)}

    name = f"cli_deploy_{uuid.uuid4().hex[:8]}"
    folder = make_algorithm_package(tmp_path, name=name, version="3.1.0")
    broken = make_algorithm_package(tmp_path, name=f"{name}_broken", algorithm_type="Nope")
    code, out, err = cli(capsys, "deploy", str(folder), str(broken), "--url", local_server.url)
    assert code == 3 and out.startswith(f"deployed {name} v3.1 ") and "invalid_algorithm_config" in err
    code, _, err = cli(capsys, "deploy", str(tmp_path / "absent"), "--url", local_server.url)
    assert code == 2 and "does not exist" in err

    tag = f"cli-{uuid.uuid4().hex[:8]}"
    clean = item_files(tmp_path / "clean", volume(4, shape=(8, 8, 8)))
    sample_args = [arg for path in clean for arg in ("-f", f"input={path}", "-f", f"target={path}")]
    code, out, err = cli(capsys, "sample", *sample_args, "--tag", tag, "--url", local_server.url)
    sample_id = out.strip()
    assert code == 0 and len(sample_id) == 36, err
    code, out, err = cli(capsys, "train", "unet3d_denoiser", sample_id, "-p", "epochs=1", "-p", "steps_per_epoch=1",
                         "--tag", tag, "--url", local_server.url)
    assert code == 0 and out.startswith("training ") and " COMPLETED: checkpoint(s) " in out, err
    checkpoint_id = out.split()[-1]
    code, out, _ = cli(capsys, "checkpoints", "--tag", tag, "--url", local_server.url)
    assert code == 0 and out.split()[0] == checkpoint_id and '"validation_loss"' in out
    code, out, _ = cli(capsys, "checkpoints", "--tag", tag, "--exclude-tag", tag, "--url", local_server.url)
    assert code == 0 and out == ""
    target = tmp_path / "exported" / "unet.zip"
    code, out, _ = cli(capsys, "export", "unet3d_denoiser", "1", "-o", str(target), "--checkpoint", checkpoint_id,
                       "--url", local_server.url)
    assert code == 0 and out.startswith(f"exported unet3d_denoiser v1 to {target}") and target.stat().st_size > 0
    code, _, err = cli(capsys, "export", "unet3d_denoiser", "1", "-o", str(target), "--checkpoint", str(uuid.uuid4()),
                       "--url", local_server.url)
    assert code == 3 and "checkpoint_not_found" in err


def test_debug_runs_a_package_without_a_server(capsys, tmp_path):
    data = volume(8)
    inputs = item_files(tmp_path / "in", data)
    code, out, err = cli(capsys, "debug", str(RUNTIME_PACKAGES / "invert"), *inputs, "-p", "offset=2",
                         "-o", str(tmp_path / "out"))
    assert code == 0 and out.startswith("debug test_invert COMPLETED: 6 output(s)"), err
    with h5py.File(tmp_path / "out" / "output_0001.h5") as item:
        np.testing.assert_allclose(item["image"][()], data[1].max() - data[1] + 2, rtol=1e-6)
    code, _, err = cli(capsys, "debug", str(RUNTIME_PACKAGES / "raiser"), inputs[0], "-q")
    assert code == 1 and "deliberate failure in inference" in err and error_lines(err)
    code, _, err = cli(capsys, "debug", str(RUNTIME_PACKAGES / "invert"), inputs[0], "-p", "offset=99")
    assert code == 2 and "offset" in error_lines(err)[0]
    code, _, err = cli(capsys, "debug", str(tmp_path / "nothing"), inputs[0])
    assert code == 2 and "is not a package folder" in err


def _child_env(**extra: str) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith("COMPOX_RAY_")}
    return env | extra


def test_the_url_comes_from_the_environment_and_no_server_is_exit_3(local_server):
    listed = subprocess.run([sys.executable, "-m", "compox_ray.cli", "algorithms"], capture_output=True, text=True,
                            timeout=120, env=_child_env(COMPOX_RAY_URL=local_server.url))
    assert listed.returncode == 0 and "denoise_3d" in listed.stdout
    from tests.servers import free_port

    nowhere = subprocess.run([sys.executable, "-m", "compox_ray.cli", "algorithms"], capture_output=True, text=True,
                             timeout=120, env=_child_env(COMPOX_RAY_URL=f"http://127.0.0.1:{free_port()}"))
    assert nowhere.returncode == 3 and len(error_lines(nowhere.stderr)) == 1
    assert "connection_failed" in nowhere.stderr


def test_ctrl_c_in_run_stops_the_run_and_exits_130(local_server, test_algorithms, tmp_path, compox):
    inputs = item_files(tmp_path / "in", volume()[:1])
    session = str(uuid.uuid4())
    child = subprocess.Popen([sys.executable, "-m", "compox_ray.cli", "run", "test_slow_steps", *inputs,
                              "-p", "steps=400", "-p", "delay_s=0.05", "--session", session],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_child_env(COMPOX_RAY_URL=local_server.url))
    try:
        deadline = time.monotonic() + 120
        while not [e for e in compox.executions(session=session) if e["status"] == "RUNNING"]:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "asked execution" in err and "compox-ray: error: interrupted" in err
    execution_id = compox.executions(session=session)[0]["execution_id"]
    deadline = time.monotonic() + 60
    while (record := compox.status(execution_id))["status"] not in ("STOPPED", "COMPLETED", "FAILED"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert record["status"] == "STOPPED"
