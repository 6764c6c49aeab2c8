"""One Ray + Serve for the whole session (starting them costs ~10-15 s here), with two apps:
``local`` (blobs in a temp dir) at ``/`` and ``s3`` (blobs on a moto S3 server) at ``/s3``.
Tests that stop or kill things start their own server in a child process (tests/servers.py)."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compox_ray.ray_environment import use_ray_environment
from compox_ray.settings import Settings, get_settings

# The test session's Ray is started as `compox-ray serve` starts its own (loopback, Ray's token
# auth, the machine's own CPUs and no logical GPU), except that both apps share Serve's proxy port
# (tests/test_ingress.py covers direct ingress on a server of its own). Part of it is read when
# Ray is imported.
RAY_SETTINGS = Settings(ingress="proxy", namespace="compox_ray_tests",
                        data_dir=Path(tempfile.mkdtemp(prefix="compox-ray-tests-")))
use_ray_environment(RAY_SETTINGS)

import httpx  # noqa: E402
import pytest  # noqa: E402
import ray  # noqa: E402
from ray import serve  # noqa: E402

from compox_ray import server as compox_server  # noqa: E402
from compox_ray.app import build_app  # noqa: E402
from tests.servers import S3Server, free_port  # noqa: E402


@dataclass
class Server:
    name: str
    url: str
    settings: Settings

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 60), **kwargs)

    def actor(self, role: str):
        return ray.get_actor(self.settings.actor_name(role), namespace=self.settings.namespace)


@pytest.fixture(autouse=True)
def _fresh_settings_cache():
    """get_settings() is cached per process: one test's environment must not leak into the next."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def serve_port(tmp_path_factory):
    compox_server.start_ray(RAY_SETTINGS, object_store_memory=300 * 2**20)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield port
    serve.shutdown()
    ray.shutdown()


def _run_app(name: str, route_prefix: str, port: int, **settings) -> Server:
    """An app on the session's Serve. ``local`` takes the resource shares `make run` derives; the
    others are small, as an operator sets them, so that every app fits beside it on 2 cores."""
    if name != "local":
        settings.setdefault("runner_num_cpus", 0.1)
    settings = Settings(namespace="compox_ray_tests", instance=name, **settings)
    serve.run(build_app(settings), name=name, route_prefix=route_prefix)
    return Server(name=name, url=f"http://127.0.0.1:{port}{route_prefix.rstrip('/')}", settings=settings)


@pytest.fixture(scope="session")
def local_server(serve_port, tmp_path_factory) -> Server:
    return _run_app("local", "/", serve_port, data_dir=tmp_path_factory.mktemp("local"),
                    max_upload_bytes=32 * 2**20)


@pytest.fixture(scope="session")
def s3_app_server(serve_port, s3_server, tmp_path_factory) -> Server:
    return _run_app("s3", "/s3", serve_port, data_dir=tmp_path_factory.mktemp("s3"), gpu_runners=False,
                    max_upload_bytes=32 * 2**20, **s3_server.settings("compox-tests"))


@pytest.fixture(scope="session")
def secured_server(serve_port, tmp_path_factory) -> Server:
    """An app with REST tokens (two user tokens, an admin token and one through the deprecated
    ``admin_token``) and one web origin allowed; tests read its tokens from its settings."""
    return _run_app("secured", "/secured", serve_port, data_dir=tmp_path_factory.mktemp("secured"),
                    algorithms_dir=None, cors_origins=["https://viewer.example.org"],
                    user_tokens=[f"user{n}-{secrets.token_urlsafe(24)}" for n in range(2)],
                    admin_tokens=[f"admin0-{secrets.token_urlsafe(24)}"],
                    admin_token=f"admin1-{secrets.token_urlsafe(24)}")


@pytest.fixture(params=["local", "s3"])
def server(request) -> Server:
    """Each test that takes it runs against the local store and against S3."""
    return request.getfixturevalue("local_server" if request.param == "local" else "s3_app_server")


@pytest.fixture
def client(server):
    with server.client() as http:
        yield http
