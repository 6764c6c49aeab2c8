"""Direct ingress, the default: the Api replica itself listens on the configured loopback port, and
a replacement replica takes that port back when the first one dies. A port already taken stops
``compox-ray serve`` before Ray starts, with a message that says so. Serve's switches follow the
``ingress`` setting, and the cluster launcher starts every node with those of ingress "proxy"."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from pydantic import ValidationError

from compox_ray.ray_environment import serve_environment
from compox_ray.settings import Settings
from tests.servers import ServerProcess, free_port, wait_until


def listener_of(port: int) -> psutil.Process:
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return psutil.Process(connection.pid)
    raise LookupError(f"nothing listens on port {port}")


@pytest.mark.slow
def test_the_api_replica_serves_the_port_itself_and_comes_back_on_it(tmp_path):
    server = ServerProcess(tmp_path / "data")
    try:
        listener = listener_of(server.port)
        assert "ServeReplica:child:Api" in " ".join(listener.cmdline())  # not Serve's proxy
        addresses = {c.laddr.ip for c in psutil.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr.port == server.port}
        assert addresses == {"127.0.0.1"}

        os.kill(listener.pid, signal.SIGKILL)
        started = time.monotonic()

        def answers_again() -> bool:
            try:
                return httpx.get(f"{server.url}/api/v0/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers_again, 120, interval_s=0.5, what="a replacement Api replica on the same port")
        assert listener_of(server.port).pid != listener.pid
        print(f"replacement Api replica answered after {time.monotonic() - started:.1f} s")
    finally:
        assert server.stop() == 0


def test_a_taken_port_stops_serve_before_ray_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        env = os.environ | {"COMPOX_RAY_PORT": str(port), "COMPOX_RAY_DATA_DIR": str(tmp_path), "RAY_ADDRESS": ""}
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "compox_ray.cli", "serve"], env=env, capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert time.monotonic() - started < 30  # no Ray instance was started and stopped


def test_serve_environment_follows_the_ingress_setting():
    direct = serve_environment(Settings(port=6000))
    assert (direct["RAY_SERVE_ENABLE_DIRECT_INGRESS"], direct["RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT"],
            direct["RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT"]) == ("1", "6000", "6001")  # exactly one port
    proxied = serve_environment(Settings(port=6000, ingress="proxy"))
    assert proxied["RAY_SERVE_ENABLE_DIRECT_INGRESS"] == "0"  # the throughput mode would turn it on
    assert "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT" not in proxied
    for env in (direct, proxied):
        # Runner calls over gRPC; the HTTP proxy, if any, on its default transport.
        assert (env["RAY_SERVE_THROUGHPUT_OPTIMIZED"], env["RAY_SERVE_PROXY_USE_GRPC"]) == ("1", "0")
        assert env["RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD"] == "0"
    with pytest.raises(ValidationError, match="proxy_port must differ from port"):
        Settings(port=6000, proxy_port=6000)


def test_the_cluster_launcher_starts_every_node_with_the_proxy_switches():
    config = yaml.safe_load((Path(__file__).parents[1] / "cluster.yaml").read_text())
    expected = serve_environment(Settings(ingress="proxy"))
    for command in (config["head_start_ray_commands"][-1], config["worker_start_ray_commands"][-1]):
        switches = dict(word.split("=", 1) for word in command.split() if word.startswith("RAY_SERVE_"))
        assert switches == expected


def test_every_node_of_the_cluster_launcher_runs_with_ray_token_auth():
    config = yaml.safe_load((Path(__file__).parents[1] / "cluster.yaml").read_text())
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    for command in (config["head_start_ray_commands"][-1], config["worker_start_ray_commands"][-1]):
        assert "RAY_AUTH_MODE=token" in command.split()
    assert "--dashboard-host=127.0.0.1" in config["head_start_ray_commands"][-1]
