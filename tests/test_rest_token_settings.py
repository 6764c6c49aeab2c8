"""REST tokens in the settings: where they come from (environment, files, the deprecated alias),
that an empty string is none, that they never show (repr, dumps, validation errors), and that
the settings handed to everything but the Api replicas carry none."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from compox_ray.settings import Settings, remove_rest_tokens_from_environment

USER = "user-token-0123456789abcdef"
OTHER_USER = "user-token-fedcba9876543210"
ADMIN = "admin-token-0123456789abcdef"
LEGACY = "legacy-admin-token-0123456789"


def secrets_of(tokens) -> list[str]:
    return [token.get_secret_value() for token in tokens]


def test_the_environment_takes_comma_separated_tokens(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPOX_RAY_USER_TOKENS", f" {USER}, ,{OTHER_USER},")
    monkeypatch.setenv("COMPOX_RAY_ADMIN_TOKENS", ADMIN)
    settings = Settings(data_dir=tmp_path)
    assert secrets_of(settings.user_tokens) == [USER, OTHER_USER]
    assert secrets_of(settings.admin_tokens) == [ADMIN]
    assert settings.has_rest_tokens
    # Serve validates a config's args without the environment; build_app's with_sources adds it.
    from_serve = Settings.model_validate({"data_dir": str(tmp_path)}).with_sources()
    assert secrets_of(from_serve.user_tokens) == [USER, OTHER_USER]


@pytest.mark.parametrize("variable", ["COMPOX_RAY_USER_TOKENS", "COMPOX_RAY_ADMIN_TOKENS", "COMPOX_RAY_ADMIN_TOKEN"])
def test_an_empty_string_is_no_token(monkeypatch, tmp_path, variable):
    monkeypatch.setenv(variable, "")
    settings = Settings(data_dir=tmp_path)
    assert not settings.has_rest_tokens and settings.admin_token is None


def test_token_files_one_per_line(tmp_path, caplog):
    users = tmp_path / "user_tokens"
    users.write_text(f"# issued 2026-12\n{USER}\n\n{OTHER_USER}  # the viewer's\n")
    users.chmod(0o600)
    admins = tmp_path / "admin_tokens"
    admins.write_text(ADMIN + "\n")
    admins.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="compox_ray.settings"):
        settings = Settings(data_dir=tmp_path, user_tokens_file=users, admin_tokens_file=admins, user_tokens=[USER])
    assert secrets_of(settings.user_tokens) == [USER, OTHER_USER]  # each once
    assert secrets_of(settings.admin_tokens) == [ADMIN]
    warnings = [record.getMessage() for record in caplog.records if record.name == "compox_ray.settings"]
    assert warnings == [f"admin_tokens_file: {admins} can be read by other users of this machine (chmod 600 it)"]


def test_a_missing_token_file_is_named(tmp_path):
    with pytest.raises(ValidationError, match="admin_tokens_file: cannot read .*missing"):
        Settings(data_dir=tmp_path, admin_tokens_file=tmp_path / "missing")


def test_the_deprecated_admin_token_joins_admin_tokens_with_a_warning(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("COMPOX_RAY_ADMIN_TOKEN", LEGACY)
    with caplog.at_level(logging.WARNING, logger="compox_ray.settings"):
        settings = Settings(data_dir=tmp_path, admin_tokens=[ADMIN])
    assert secrets_of(settings.admin_tokens) == [ADMIN, LEGACY] and settings.admin_token is None
    assert secrets_of(settings.with_sources().admin_tokens) == [ADMIN, LEGACY]
    assert "admin_token (COMPOX_RAY_ADMIN_TOKEN) is deprecated" in caplog.text
    assert LEGACY not in caplog.text


def test_tokens_never_show(tmp_path):
    settings = Settings(data_dir=tmp_path, user_tokens=[USER], admin_tokens=[ADMIN])
    for shown in (repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json()):
        assert USER not in shown and ADMIN not in shown


@pytest.mark.parametrize("weak", ["change-me", "has space 0123456789abcdef", "comma-less-but-ünïcode-0123456789"])
def test_weak_or_malformed_tokens_are_refused_without_being_shown(tmp_path, weak):
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, admin_tokens=[weak])
    assert "at least 16 characters" in str(refused.value)
    assert weak not in str(refused.value) and weak not in repr(refused.value)  # what a log or traceback shows


def test_settings_without_rest_tokens_stay_without_them(monkeypatch, tmp_path):
    settings = Settings(data_dir=tmp_path, user_tokens=[USER], admin_tokens=[ADMIN], admin_token=LEGACY)
    stripped = settings.without_rest_tokens()
    assert not stripped.has_rest_tokens and stripped.instance == settings.instance
    monkeypatch.setenv("COMPOX_RAY_USER_TOKENS", USER)
    monkeypatch.setenv("COMPOX_RAY_ADMIN_TOKEN", LEGACY)
    assert not stripped.with_sources().has_rest_tokens  # the environment does not bring them back


def test_tokens_read_from_the_environment_survive_its_cleaning(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPOX_RAY_USER_TOKENS", USER)
    monkeypatch.setenv("COMPOX_RAY_ADMIN_TOKENS", ADMIN)
    monkeypatch.setenv("COMPOX_RAY_ADMIN_TOKEN", LEGACY)
    settings = Settings(data_dir=tmp_path)
    remove_rest_tokens_from_environment()
    assert not Settings(data_dir=tmp_path).has_rest_tokens  # what a Ray process started now would read
    built = settings.with_sources()  # what build_app does with them afterwards
    assert secrets_of(built.user_tokens) == [USER] and secrets_of(built.admin_tokens) == [ADMIN, LEGACY]


@pytest.mark.parametrize("setting, value, message", [
    ("cors_origins", "*", "cors_origins takes web origins"),
    ("cors_origins", "null", "cors_origins takes web origins"),
    ("cors_origins", "https://viewer.example.org/app", "cors_origins takes web origins"),
    ("allowed_hosts", "compox.example.org:5481", "without scheme or port"),
    ("allowed_hosts", "https://compox.example.org", "without scheme or port"),
])
def test_origins_and_hosts_are_checked(tmp_path, setting, value, message):
    with pytest.raises(ValidationError, match=message):
        Settings(data_dir=tmp_path, **{setting: value})


def test_origins_and_hosts_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPOX_RAY_CORS_ORIGINS", "https://Viewer.example.org/, http://127.0.0.1:8888")
    monkeypatch.setenv("COMPOX_RAY_ALLOWED_HOSTS", "compox.example.org,*.compox.internal")
    settings = Settings(data_dir=tmp_path)
    assert settings.cors_origins == ["https://viewer.example.org", "http://127.0.0.1:8888"]
    assert settings.allowed_hosts == ["compox.example.org", "*.compox.internal"]
    assert Settings(data_dir=tmp_path / "defaults", cors_origins=[], allowed_hosts=["localhost"]).cors_origins == []


SECRET_SETTINGS = {"user_tokens", "admin_tokens", "admin_token", "s3_access_key_id", "s3_secret_access_key"}


@pytest.mark.parametrize("config", sorted((Path(__file__).resolve().parents[1] / "deployments").glob("*.yaml")),
                         ids=lambda path: path.name)
def test_shipped_serve_configs_hold_no_secret(config):
    # Secrets come from the environment or a file: a path may be in the config, a token never.
    serve_config = yaml.safe_load(config.read_text())
    for application in serve_config["applications"]:
        args = set(application.get("args", {}))
        assert not SECRET_SETTINGS & args, f"{config.name}: {sorted(SECRET_SETTINGS & args)}"
        assert args <= set(Settings.model_fields), sorted(args - set(Settings.model_fields))
        if serve_config["http_options"]["host"] != "127.0.0.1":
            assert {"user_tokens_file", "admin_tokens_file"} <= args  # or it would refuse to start
