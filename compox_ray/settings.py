"""The one settings object of compox_ray.

Built where the application is built (the CLI, the Serve builder, a test) and handed to every
deployment and actor as an argument, so all replicas of one deploy see the same values.
Precedence: explicit values > ``COMPOX_RAY_*`` environment > YAML file > defaults.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, YamlConfigSettingsSource

CONFIG_FILE_ENV = "COMPOX_RAY_CONFIG_FILE"
# A custom resource only the head node advertises: actors that own records and queues are pinned
# to it by asking for a sliver of it (a node id would not survive a head replacement).
HEAD_RESOURCE = "compox_ray_head"
# The packages that ship with the server (the repository's algorithms/ folder).
BUNDLED_ALGORITHMS_DIR = Path(__file__).resolve().parents[1] / "algorithms"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPOX_RAY_", extra="forbid")

    # Server
    host: str = "127.0.0.1"
    port: int = Field(5481, ge=1, le=65535)
    ray_address: str | None = Field(None, description="None starts a local Ray; 'auto' or host:port joins")
    ingress: Literal["direct", "proxy"] = Field(
        "direct", description="direct: the Api replica itself listens on host:port (Serve's direct ingress; one Api "
                              "replica on this node); proxy: Serve's HTTP proxy does and forwards to Api replicas")
    proxy_port: int | None = Field(None, ge=1, le=65535,
                                   description="Serve's proxy when ingress is direct; None: a free port on host")
    namespace: str = "compox_ray"
    instance: str = Field("compox", pattern=r"^[A-Za-z0-9_-]{1,40}$",
                          description="Prefix of this server's actor names: two instances can share a cluster")
    admin_token: str | None = Field(None, description="Bearer token for deploy/delete; None: open (loopback)")

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
    database_path: Path | None = Field(None, description="SQLite file; default <data_dir>/records.sqlite3")
    max_upload_bytes: int = Field(8 * 2**30, gt=0)
    max_item_bytes: int | None = Field(
        None, gt=0, description="Largest declared size of one HDF5 item file's data (shape x item size of every "
                                "dataset and attribute, before compression), checked before any is read; "
                                "default max_upload_bytes")
    download_chunk_bytes: int = Field(4 * 2**20, ge=2**16)

    # Executions
    lease_s: float = Field(30, gt=0, description="A running execution's owner renews its lease this often x3")
    gpu_runners: bool | None = Field(None, description="Deploy RunnerGpu; None: when the cluster has GPUs")
    models_per_replica: int = Field(2, ge=1, description="Warm algorithms kept per Runner replica (LRU)")
    progress_flush_s: float = Field(0.1, gt=0, description="Progress/log writes from one run are batched this long")

    # Trainings: one Ray task each; a package's [tool.compox] training_resources overrides these
    training_num_gpus: float = Field(0.25, ge=0, le=1, description="GPU share per training where the cluster has GPUs")
    training_num_cpus: float = Field(1, ge=0)
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


@cache
def get_settings() -> Settings:
    """Entry points only (CLI, client); tests call ``get_settings.cache_clear()``."""
    return Settings()
