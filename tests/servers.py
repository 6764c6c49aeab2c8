"""Real peers the tests start on 127.0.0.1: a free port, an S3 server (moto), a compox_ray
server in a child process (for tests that stop or kill things)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


# Between Ray's worker ports (10002-19999) and the ephemeral range (from 32768), where Ray picks the
# ports of its own servers: a port handed out here cannot be taken by a Ray that starts before the
# server for which it was chosen binds it.
_TEST_PORTS = range(20000, 32768)


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


def wait_until(predicate, timeout_s: float, interval_s: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = predicate()
            if result:
                return result
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

    def __init__(self, data_dir: Path, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Without the test session's Serve switches (proxy ingress): the child chooses its own.
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("RAY_SERVE_")}
        env = inherited | {"COMPOX_RAY_DATA_DIR": str(data_dir), "COMPOX_RAY_PORT": str(self.port),
                           "COMPOX_RAY_INSTANCE": "child", "RAY_ADDRESS": ""} | (extra_env or {})
        self.log_path = Path(data_dir).parent / f"server-{self.port}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "compox_ray.cli", "serve"], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(self._ready, 300, interval_s=0.5, what="child server")
        except TimeoutError:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
        response = httpx.get(f"{self.url}/api/v0/health", timeout=2)
        return response.status_code == 200 and response.json()["status"] == "ok"  # this server, no other

    def stop(self, timeout_s: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()
        return self.process.returncode
