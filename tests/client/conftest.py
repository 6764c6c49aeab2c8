"""The client against the session's real test server (tests/conftest.py), with the runner test
packages of tests/runtime/packages deployed through the client itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compox_ray.client import Client

RUNTIME_PACKAGES = Path(__file__).resolve().parents[1] / "runtime" / "packages"


@pytest.fixture
def compox(local_server):
    """A Client of the local test server, without progress bars (tests that want them ask)."""
    with Client(local_server.url, progress=False, backoff_s=0.05) as client:
        yield client


@pytest.fixture(scope="session")
def test_algorithms(local_server) -> dict[str, str]:
    """{package folder name: algorithm_id} of the runner test packages the client tests use."""
    with Client(local_server.url, progress=False) as client:
        return {name: client.deploy(RUNTIME_PACKAGES / name)["algorithm_id"]
                for name in ("slow_steps", "raiser", "invert")}


def volume(seed: int = 0, shape=(6, 16, 16)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)
