"""The four servers of a run, one at a time: Compox and compox_ray, each on local storage and on S3.

Like is compared with like: compox_ray's local directory store against Compox on its cheapest
storage (its in-memory connection), and compox_ray on S3 against Compox on S3, both on the same
moto server. Each server is started for its turn and stopped before the next one starts, so two
servers never compete for the two cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmarks.bench_packages import BUNDLED, PACKAGES
from benchmarks.client import ApiClient
from benchmarks.figures import Target
from benchmarks.peer import ROOT, start_compox
from benchmarks.processes import ChildServer, free_port, wait_until_idle

PAIRS = (("local", "memory"), ("S3", "s3"))  # (store label, Compox's store for the same label)


def start_compox_ray(store: str, work_dir: Path, s3, log_dir: Path, extra_env: dict[str, str],
                     extra_args: list[str]) -> ChildServer:
    port = free_port()
    name = f"compox_ray-{store.lower()}" + "".join(arg.replace("--", "-") for arg in extra_args)
    data_dir = work_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_ADDRESS": "",
                        "PYTHONPATH": str(ROOT),
                        # deploy/local reads only from allowed folders: the workload's packages and the bundled ones
                        "COMPOX_RAY_DEPLOY_ALLOWED_DIRS": json.dumps([str(PACKAGES), str(BUNDLED)]),
                        # Every execution of the workload asks for the CPU: the one logical GPU is left
                        # whole to the trainings (a GPU runner replica would hold half of it).
                        "COMPOX_RAY_GPU_RUNNERS": "false"} | extra_env
    argv = [sys.executable, "-m", "benchmarks.compox_ray_launcher", "--port", str(port), "--data-dir", str(data_dir),
            *extra_args]
    if store == "S3":
        argv += ["--blob-uri", "s3://compox-ray-bench/blobs"]
        env |= {"COMPOX_RAY_S3_ENDPOINT_URL": s3.endpoint_url, "COMPOX_RAY_S3_ACCESS_KEY_ID": s3.access_key,
                "COMPOX_RAY_S3_SECRET_ACCESS_KEY": s3.secret_key}
    # The data directory is the working directory: no stray compox_ray.yaml of the checkout applies.
    return ChildServer(name, argv, port=port, env=env, log_dir=log_dir, cwd=data_dir,
                       ready_path="/api/v0/health", ready_timeout_s=240)


@contextlib.contextmanager
def running(server_kind: str, store: str, label: str, work_dir: Path, s3, log_dir: Path,
            extra_env: dict[str, str], extra_args: list[str]) -> Iterator[Target]:
    """Start one server, yield it as a Target whose figures go in the table under ``label``, stop it
    (also on errors and Ctrl-C)."""
    if server_kind == "Compox":
        compox_store = dict(PAIRS)[store]
        server = start_compox(compox_store, work_dir, s3.endpoint_url, log_dir)
    else:
        server = start_compox_ray(store, work_dir, s3, log_dir, extra_env, extra_args)
    client = ApiClient(server.url)
    try:
        wait_until_idle(server.process.pid)
        yield Target(server=server_kind, store=label, url=server.url, root_pid=server.process.pid, client=client)
    finally:
        client.close()
        server.stop()
