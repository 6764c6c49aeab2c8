"""Real peers the tests start on 127.0.0.1: a free port, an S3 server (moto), a compox_ray
server in a child process (for tests that stop or kill things)."""

from __future__ import annotations

import ipaddress
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil


# Between Ray's worker ports (10002-19999) and the ephemeral range (from 32768), where Ray picks the
# ports of its own servers: a port handed out here cannot be taken by a Ray that starts before the
# server for which it was chosen binds it.
_TEST_PORTS = range(20000, 32768)
# What a child server chooses for itself, as `make run` does: Serve's switches and Ray's security.
RAY_START_TIMEOUT = "The current node timed out during startup"
CHILD_CHOOSES = ("RAY_SERVE_", "RAY_AUTH_", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")


def free_port() -> int:
    for _ in range(100):
        port = random.choice(_TEST_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_TEST_PORTS}")


class GaveUp(Exception):
    """Raised by a predicate of ``wait_until`` when waiting longer cannot help."""


def wait_until(predicate, timeout_s: float, interval_s: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = predicate()
            if result:
                return result
        except GaveUp:
            raise
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s} s")
        time.sleep(interval_s)


class S3Server:
    """moto_server on loopback; credentials are checked by name only."""

    access_key = "testing"
    secret_key = "testing"

    def __init__(self):
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: httpx.get(self.endpoint_url, timeout=1).status_code < 500, 30, what="moto_server")

    def settings(self, bucket: str) -> dict:
        return {"blob_uri": f"s3://{bucket}/blobs", "s3_endpoint_url": self.endpoint_url,
                "s3_access_key_id": self.access_key, "s3_secret_access_key": self.secret_key}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class ServerProcess:
    """``compox-ray serve`` in a child process with its own Ray instance and port."""

    def __init__(self, data_dir: Path, extra_env: dict | None = None, command: list[str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(data_dir)
        # Without the test session's Ray and Serve switches: the child chooses its own, as
        # `make run` does (its own Ray token under its data_dir, direct ingress).
        inherited = {name: value for name, value in os.environ.items() if not name.startswith(CHILD_CHOOSES)}
        env = inherited | {"COMPOX_RAY_DATA_DIR": str(data_dir), "COMPOX_RAY_PORT": str(self.port),
                           "COMPOX_RAY_INSTANCE": "child", "RAY_ADDRESS": ""} | (extra_env or {})
        self.log_path = Path(data_dir).parent / f"server-{self.port}.log"
        self.log = open(self.log_path, "wb")
        # In a session of its own, as a terminal's job or a service is: signals go to its group.
        for attempt in (1, 2):
            self.process = subprocess.Popen(command or [sys.executable, "-m", "compox_ray.cli", "serve"], env=env,
                                            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_until(self._ready, 300, interval_s=0.5, what="child server")
                return
            except GaveUp as error:
                # Ray gives its raylet a fixed 30 s to register; a busy 2-core machine can miss it.
                if attempt == 2 or RAY_START_TIMEOUT not in str(error):
                    raise
            except TimeoutError:
                self.stop()
                raise

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise GaveUp(f"server exited: {self.log_path.read_text()[-2000:]}")
        response = httpx.get(f"{self.url}/api/v0/health", timeout=2)
        return response.status_code == 200 and response.json()["status"] == "ok"  # this server, no other

    def process_tree(self) -> list[psutil.Process]:
        """The server's process and every process under it (Ray's own included)."""
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def stop(self, timeout_s: float = 60, signum: int = signal.SIGTERM, group: bool = False) -> int:
        """Send ``signum`` to the server (or to its whole process group, as a terminal's Ctrl-C,
        systemd and `docker stop` do) and wait for it; SIGKILL to the group after ``timeout_s``."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()
        return self.process.returncode


def still_running(processes: list[psutil.Process], grace_s: float = 5) -> list[str]:
    """Those of ``processes`` that have not ended within ``grace_s`` (zombies count as ended)."""
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    return [f"{p.pid} {p.name()}" for p in alive if _alive(p)]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback


class RayHead:
    """A Ray cluster an operator started (`ray start --head --block`, with Ray's token auth), here
    with logical GPUs: the fractional-GPU tests join a server to it."""

    def __init__(self, directory: Path, num_cpus: int = 4, num_gpus: int = 1):
        from compox_ray.ray_environment import ensure_token_file, serve_environment
        from compox_ray.settings import HEAD_RESOURCE, Settings

        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        inherited = {name: value for name, value in os.environ.items() if not name.startswith(CHILD_CHOOSES)}
        # Loopback only (Ray's single-machine mode), and Serve's switches as cluster.yaml sets them.
        self.env = inherited | serve_environment(Settings(ingress="proxy")) | {
            "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(ensure_token_file(directory / "ray_auth_token")),
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
        self.log = open(directory / "ray-head.log", "wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", f"--port={self.port}",
             f"--num-cpus={num_cpus}", f"--num-gpus={num_gpus}", f'--resources={{"{HEAD_RESOURCE}": 1}}',
             "--include-dashboard=false", "--disable-usage-stats"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def server(self, data_dir: Path, extra_env: dict | None = None) -> ServerProcess:
        """`compox-ray serve` joined to this cluster (as `--address`), with Serve's proxy ingress."""
        return ServerProcess(data_dir, extra_env={
            "COMPOX_RAY_RAY_ADDRESS": self.address, "COMPOX_RAY_INGRESS": "proxy",
            **{name: self.env[name] for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")},
            **(extra_env or {})})

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()
