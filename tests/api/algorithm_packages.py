"""Helpers of the algorithm API tests: deploy a package folder over HTTP, snapshot the registry."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.factories.packages import zip_folder

API_TOUR = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "api_tour"


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def deploy(client: httpx.Client, folder: Path, **params) -> httpx.Response:
    return client.post("/api/v0/deploy", content=zip_folder(folder), params=params,
                       headers={"Content-Type": "application/zip"}, timeout=300)


def deployed(client: httpx.Client, folder: Path, **params) -> dict:
    response = deploy(client, folder, **params)
    assert response.status_code == 200, response.text
    return response.json()


def registry(client: httpx.Client) -> list[tuple[str, tuple[str, ...]]]:
    """Every algorithm id with its minor versions: equal snapshots mean nothing was registered."""
    response = client.get("/api/v0/algorithm/all")
    assert response.status_code == 200, response.text
    return sorted((item["algorithm_id"], tuple(item["algorithm_minor_versions"])) for item in response.json())
