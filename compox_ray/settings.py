"""The one settings object of compox_ray.

Built where the application is built (the CLI, the Serve builder, a test) and handed to every
deployment and actor as an argument, so all replicas of one deploy see the same values.
Precedence: explicit values > ``COMPOX_RAY_*`` environment > YAML file > defaults.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, YamlConfigSettingsSource

CONFIG_FILE_ENV = "COMPOX_RAY_CONFIG_FILE"
# A custom resource only the head node advertises: actors that own records and queues are pinned
# to it by asking for a sliver of it (a node id would not survive a head replacement).
HEAD_RESOURCE = "compox_ray_head"


def _bundled_algorithms_dir() -> Path:
    """The packages that ship with the server: the repository's algorithms/ folder, installed as
    compox_ray.bundled_algorithms (pyproject.toml maps it), so a wheel carries them too."""
    spec = importlib.util.find_spec("compox_ray.bundled_algorithms")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[1] / "algorithms"  # a checkout used without installing it


BUNDLED_ALGORITHMS_DIR = _bundled_algorithms_dir()
# Where the REST tokens come from in the environment (README "Security").
REST_TOKEN_ENV_VARS = ("COMPOX_RAY_USER_TOKENS", "COMPOX_RAY_ADMIN_TOKENS", "COMPOX_RAY_ADMIN_TOKEN")
LOOPBACK_HOST_NAMES = ["localhost", "127.0.0.1", "[::1]"]
# RFC 6750's token characters; 16 at least, so that no "change-me" passes for a secret.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{16,}=*")

_TOKEN_FIELDS = ("user_tokens", "admin_tokens", "user_tokens_file", "admin_tokens_file", "admin_token")

logger = logging.getLogger(__name__)


def _reveal(value) -> str:
    return (value.get_secret_value() if isinstance(value, SecretStr) else str(value)).strip()


def _comma_separated(value):
    """The environment gives ``a,b`` (or a JSON list); YAML and code give lists."""
    if isinstance(value, str):
        value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
    return value


def _tokens(value) -> list[SecretStr]:
    # An empty string is no token (``COMPOX_RAY_USER_TOKENS=`` configures none).
    return [SecretStr(token) for token in map(_reveal, _comma_separated(value) or []) if token]


def _names(value) -> list[str]:
    return [name for name in (str(item).strip() for item in _comma_separated(value) or []) if name]


TokenList = Annotated[list[SecretStr], NoDecode, BeforeValidator(_tokens)]
NameList = Annotated[list[str], NoDecode, BeforeValidator(_names)]


def _read_token_file(path: Path, setting: str) -> list[SecretStr]:
    """One token per line (commas separate too); blank lines and ``#`` comments are skipped."""
    path = path.expanduser()
    try:
        text = path.read_text()
    except OSError as error:
        raise ValueError(f"{setting}: cannot read {path}: {error.strerror}") from None
    if path.stat().st_mode & 0o077:
        logger.warning("%s: %s can be read by other users of this machine (chmod 600 it)", setting, path)
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return [token for line in lines for token in _tokens(line)]


def _warn_admin_token_deprecated() -> None:
    logger.warning("admin_token (COMPOX_RAY_ADMIN_TOKEN) is deprecated: it is added to admin_tokens; set "
                   "admin_tokens (COMPOX_RAY_ADMIN_TOKENS, comma-separated) instead")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value may be a token, and errors end up in logs.
    model_config = SettingsConfigDict(env_prefix="COMPOX_RAY_", extra="forbid", hide_input_in_errors=True)

    # Server
    host: str = "127.0.0.1"
    port: int = Field(5481, ge=1, le=65535)
    ray_address: str | None = Field(None, description="None starts a local Ray; 'auto' or host:port joins")
    ray_num_cpus: int | None = Field(None, ge=1, description="CPUs of the Ray this server starts; None: the machine's")
    ingress: Literal["direct", "proxy"] = Field(
        "direct", description="direct: the Api replica itself listens on host:port (Serve's direct ingress; one Api "
                              "replica on this node); proxy: Serve's HTTP proxy does and forwards to Api replicas")
    proxy_port: int | None = Field(None, ge=1, le=65535,
                                   description="Serve's proxy when ingress is direct; None: a free port on host")
    namespace: str = "compox_ray"
    instance: str = Field("compox", pattern=r"^[A-Za-z0-9_-]{1,40}$",
                          description="Prefix of this server's actor names: two instances can share a cluster")

    # REST access (README "Security"); no token configured: every route open, loopback only
    user_tokens: TokenList = Field([], description="Bearer tokens that open the client workflows (comma-separated)")
    admin_tokens: TokenList = Field([], description="Bearer tokens that open everything, deploy included")
    user_tokens_file: Path | None = Field(None, description="A file of user tokens, one per line (added to user_tokens)")
    admin_tokens_file: Path | None = Field(None, description="A file of admin tokens, one per line")
    admin_token: Annotated[SecretStr | None, BeforeValidator(lambda value: value or None)] = Field(
        None, description="Deprecated: one admin token, added to admin_tokens")
    allow_unauthenticated: bool = Field(
        False, description="Serve beyond loopback with no token (a trusted network of token-less clients)")
    cors_origins: NameList = Field([], description="Web origins (https://host[:port]) that may call this server "
                                                   "from a browser; CORS headers only for them")
    allowed_hosts: NameList = Field(LOOPBACK_HOST_NAMES, description="Host header names this server answers "
                                                                     "to (no port); '*' any, '*.example.org'")

    # What GET / reports (Compox's RootMessage)
    server_name: str = "compox_ray"
    server_tags: list[str] = []
    group_name: str = ""
    organization_name: str = ""
    organization_domain: str = ""

    # Storage
    data_dir: Path = Path("var")
    blob_uri: str | None = Field(None, description="file:///abs/dir or s3://bucket/prefix; default <data_dir>/blobs")
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str | None = None
    s3_public_endpoint_url: str | None = Field(
        None, description="Where clients reach S3 when not at s3_endpoint_url (another host name, a proxy): "
                          "presigned URLs are signed for this endpoint")
    transfer_url_expiry_s: int = Field(3600, ge=1, le=7 * 24 * 3600,
                                       description="Lifetime of the v1 upload and download URLs")
    public_base_url: str | None = Field(
        None, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="Where clients reach this server when a proxy stands in front (https://compox.example.org): "
                    "a local store's v1 URLs start with it; default: the URL each request came to")
    transfer_url_secret: str | None = Field(
        None, min_length=16, description="Key of the signed v1 URLs of a local store; default a random one kept in "
                                         "<data_dir>/transfer_url_secret (set it when Api replicas run on several nodes)")
    database_path: Path | None = Field(None, description="SQLite file; default <data_dir>/records.sqlite3")
    max_upload_bytes: int = Field(8 * 2**30, gt=0)
    max_item_bytes: int | None = Field(
        None, gt=0, description="Largest declared size of one HDF5 item file's data (shape x item size of every "
                                "dataset and attribute, before compression), checked before any is read; "
                                "default max_upload_bytes")
    download_chunk_bytes: int = Field(4 * 2**20, ge=2**16)

    # Request limits (back-pressure instead of collapse)
    max_json_body_bytes: int = Field(2**20, gt=0, description="Largest body of a route that parses JSON (413); "
                                                                "raw-body routes have their own limits")
    max_event_streams: int = Field(1000, ge=1, description="Event streams one Api replica keeps open at once (503 "
                                                           "beyond); keep the Api's max_ongoing_requests above it")

    # Executions
    lease_s: float = Field(30, gt=0, description="A running execution's owner renews its lease this often x3")
    gpu_runners: bool | None = Field(None, description="Deploy RunnerGpu; None: when the cluster has GPUs")
    models_per_replica: int = Field(2, ge=1, description="Warm algorithms kept per Runner replica (LRU)")
    # Resource requests; None: derived from the head node's CPUs (compox_ray/runtime/resource_plan.py)
    runner_num_cpus: float | None = Field(None, gt=0, description="CPUs per RunnerCpu replica")
    runner_replicas: int | None = Field(None, ge=1, description="RunnerCpu replicas")
    progress_flush_s: float = Field(0.1, gt=0, description="Progress/log writes from one run are batched this long")

    # Trainings: one Ray task each; a package's [tool.compox] training_resources overrides these
    training_num_gpus: float = Field(0.25, ge=0, le=1, description="GPU share per training where the cluster has GPUs")
    training_num_cpus: float | None = Field(None, ge=0, description="CPUs per training; None: derived")
    training_stop_grace_s: float = Field(2, ge=0, description="After a stop, wait this long, then cancel the task")

    # Sessions (Compox defaults: 5 sessions of 5 items, 24 h from last use)
    session_max_count: int = Field(5, ge=1)
    session_max_items: int = Field(5, ge=1)
    session_max_bytes: int = Field(2 * 2**30, gt=0, description="Per session, in real bytes (numpy nbytes)")
    session_ttl_s: float = Field(24 * 3600, gt=0)

    # Lifetimes (seconds)
    file_expiry_s: float = Field(24 * 3600, gt=0)
    record_retention_s: float = Field(30 * 24 * 3600, gt=0)
    sweep_interval_s: float = Field(60, gt=0)

    # Algorithm packages
    algorithms_dir: Path | None = Field(BUNDLED_ALGORITHMS_DIR,
                                        description="Bundled packages deployed at start-up; None: deploy none")
    deploy_allowed_dirs: list[Path] | None = Field(
        None, description="Server-side folders POST /api/v0/deploy/local may read from; default [<data_dir>/deploy]")
    max_package_bytes: int = Field(4 * 2**30, gt=0, description="Largest package (zip body or unpacked content)")
    max_package_files: int = Field(20_000, gt=0)
    package_cache_dir: Path | None = Field(None, description="Node-local unpacked packages; default <data_dir>/packages")
    package_check_timeout_s: float = Field(600, gt=0, description="Deploy-time import check of a package")
    package_content_grace_s: float = Field(
        3600, gt=0, description="Unreferenced package content is deleted by the sweep only after this long")

    @field_validator("user_tokens", "admin_tokens")
    @classmethod
    def _check_tokens(cls, tokens: list[SecretStr]) -> list[SecretStr]:
        if not all(_TOKEN.fullmatch(token.get_secret_value()) for token in tokens):
            # Never the value: it may be a token.
            raise ValueError("a token is at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (then '=' padding), "
                             "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        return tokens

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        origins = [origin.rstrip("/").lower() for origin in origins]
        for origin in origins:
            if not re.fullmatch(r"https?://[^/?#*\s]+", origin) or origin.endswith("://null"):
                raise ValueError(f"cors_origins takes web origins such as https://viewer.example.org, not {origin!r}")
        return origins

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, names: list[str]) -> list[str]:
        for name in names:
            if "/" in name or re.fullmatch(r"[^\[\]:]+:\d+", name):
                raise ValueError(f"allowed_hosts takes host names without scheme or port, not {name!r}")
        return names

    @model_validator(mode="after")
    def _merge_tokens(self) -> Settings:
        # Files and the deprecated alias end up in the two lists (marked as set, so with_sources
        # keeps them); each token once.
        users, admins = list(self.user_tokens), list(self.admin_tokens)
        if self.user_tokens_file is not None:
            users += self._check_tokens(_read_token_file(self.user_tokens_file, "user_tokens_file"))
        if self.admin_tokens_file is not None:
            admins += self._check_tokens(_read_token_file(self.admin_tokens_file, "admin_tokens_file"))
        if self.admin_token is not None:
            _warn_admin_token_deprecated()
            admins += self._check_tokens([self.admin_token])
        self.user_tokens = list({token.get_secret_value(): token for token in users}.values())
        self.admin_tokens = list({token.get_secret_value(): token for token in admins}.values())
        self.user_tokens_file = self.admin_tokens_file = self.admin_token = None
        # (Assignment marks a field as set: only the lists that hold tokens stay so, or with_sources
        # would pass an empty list explicitly and drop the environment's tokens.)
        self.model_fields_set.difference_update(_TOKEN_FIELDS)
        self.model_fields_set.update(name for name in ("user_tokens", "admin_tokens") if getattr(self, name))
        return self

    @property
    def has_rest_tokens(self) -> bool:
        return bool(self.user_tokens or self.admin_tokens)

    def without_rest_tokens(self) -> Settings:
        """The settings for every process but the Api replicas: actors, runners, trainings and import
        checks need no REST token, and package code runs in the last three."""
        return self.model_copy(update=dict.fromkeys(_TOKEN_FIELDS) | {"user_tokens": [], "admin_tokens": []})

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        # Absolute paths: replicas and actors run in other working directories.
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.blob_uri is None:
            self.blob_uri = (self.data_dir / "blobs").as_uri()
        if self.database_path is None:
            self.database_path = self.data_dir / "records.sqlite3"
        self.database_path = self.database_path.expanduser().resolve()
        if self.max_item_bytes is None:
            self.max_item_bytes = self.max_upload_bytes
        if self.deploy_allowed_dirs is None:
            self.deploy_allowed_dirs = [self.data_dir / "deploy"]
        self.deploy_allowed_dirs = [path.expanduser().resolve() for path in self.deploy_allowed_dirs]
        if self.package_cache_dir is None:
            self.package_cache_dir = self.data_dir / "packages"
        self.package_cache_dir = self.package_cache_dir.expanduser().resolve()
        if self.algorithms_dir is not None:
            self.algorithms_dir = self.algorithms_dir.expanduser().resolve()
        if self.package_content_grace_s <= self.package_check_timeout_s:
            # A deploy uploads content, then checks it, then registers it: the sweep must not
            # take content that a deploy in progress is about to register.
            raise ValueError("package_content_grace_s must be longer than package_check_timeout_s")
        if self.proxy_port == self.port:
            raise ValueError("proxy_port must differ from port: with direct ingress the Api replica listens on port")
        return self

    @property
    def spool_dir(self) -> Path:
        """Node-local scratch for uploads being received and validated."""
        return self.data_dir / "spool"

    def actor_name(self, role: str) -> str:
        return f"{self.instance}:{role}"

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # The YAML path is read per build, not at import.
        yaml_file = os.environ.get(CONFIG_FILE_ENV, "compox_ray.yaml")
        return init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file)

    def with_sources(self) -> Settings:
        """Re-apply environment and YAML under the values set explicitly.

        Serve validates a builder's ``args:`` with ``model_validate``, which skips settings sources.
        """
        return Settings(**self.model_dump(exclude_unset=True))


def remove_rest_tokens_from_environment() -> None:
    """Once the settings are built: the Ray processes a server starts inherit its environment, and
    package code runs in some of them. The settings keep the tokens they read."""
    for name in REST_TOKEN_ENV_VARS:
        os.environ.pop(name, None)


@cache
def get_settings() -> Settings:
    """Entry points only (CLI, client); tests call ``get_settings.cache_clear()``."""
    return Settings()
