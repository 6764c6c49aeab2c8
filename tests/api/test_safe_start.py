"""Closed by default: with no REST token configured the server listens on loopback only, for
`compox-ray serve` (the ``host`` setting) and for `serve deploy` (a Serve config's http_options)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compox_ray.api.auth import UnsafeExposure, is_loopback_host, require_safe_exposure
from compox_ray.app import build_app
from compox_ray.settings import Settings

TOKEN = "admin-token-for-the-start-rule-0123456789"


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True),
                                            ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                            ("", False), ("10.1.2.3", False), ("compox.example.org", False)])
def test_what_counts_as_loopback(host, loopback):
    assert is_loopback_host(host) is loopback


def test_a_non_loopback_host_without_tokens_refuses_to_start_and_says_what_to_set(tmp_path):
    with pytest.raises(UnsafeExposure) as refused:
        build_app(Settings(host="0.0.0.0", data_dir=tmp_path))
    message = str(refused.value)
    assert "host '0.0.0.0'" in message
    assert all(name in message for name in ("COMPOX_RAY_USER_TOKENS", "COMPOX_RAY_ADMIN_TOKENS",
                                            "allow_unauthenticated"))


def warnings_of_the_start_rule(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "compox_ray.api.auth"]


def test_tokens_or_allow_unauthenticated_let_it_start(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="compox_ray.api.auth")
    assert build_app(Settings(host="0.0.0.0", data_dir=tmp_path, admin_tokens=[TOKEN], allowed_hosts=["*"]))
    assert warnings_of_the_start_rule(caplog) == []
    for start in range(2):  # a WARNING at every start
        assert build_app(Settings(host="0.0.0.0", data_dir=tmp_path, allow_unauthenticated=True, allowed_hosts=["*"]))
        assert sum("allow_unauthenticated is set" in line for line in warnings_of_the_start_rule(caplog)) == start + 1


def test_a_non_loopback_host_with_loopback_only_allowed_hosts_is_warned_about(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="compox_ray.api.auth")
    require_safe_exposure(Settings(host="0.0.0.0", data_dir=tmp_path, user_tokens=[TOKEN]))
    assert any("COMPOX_RAY_ALLOWED_HOSTS" in line for line in warnings_of_the_start_rule(caplog))


@pytest.mark.slow
def test_a_serve_config_on_all_interfaces_without_tokens_fails_to_deploy(tmp_path):
    # As `serve deploy` does it, in a Ray of its own. proxy_location Disabled: Serve keeps the
    # http_options (what the app reads) but opens no listener on all interfaces during the test.
    token_file = tmp_path / "admin_tokens"
    token_file.write_text(f"# rotated 2026-12\n{TOKEN}\n")
    token_file.chmod(0o600)
    configs = []
    for name, extra in (("open", {}), ("with_tokens", {"admin_tokens_file": str(token_file)})):
        config = {"proxy_location": "Disabled", "http_options": {"host": "0.0.0.0", "port": 5481},
                  "applications": [{"name": "compox", "route_prefix": "/", "import_path": "compox_ray.app:build_app",
                                    "args": {"instance": "compox", "data_dir": str(tmp_path / "data"),
                                             "algorithms_dir": None, "allowed_hosts": ["*"], **extra}}]}
        configs.append(tmp_path / f"{name}.yaml")
        configs[-1].write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "tests.api.serve_deploy_child", *map(str, configs)],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    open_app, with_tokens = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert open_app["status"] == "DEPLOY_FAILED"
    assert "Serve's http_options.host '0.0.0.0'" in open_app["message"]
    assert "COMPOX_RAY_USER_TOKENS" in open_app["message"]
    assert with_tokens["status"] != "DEPLOY_FAILED" and "Api" in with_tokens["deployments"], with_tokens
    assert TOKEN not in done.stdout + done.stderr
