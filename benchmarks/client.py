"""The client side of the workload: Compox's REST calls, the same against both servers.

Only the public ``/api/v0`` contract is used, so one workload measures Compox and compox_ray
alike. A route that a server does not offer yet raises ``NotAvailable``; the figure that needs it
then reads "n/a" instead of failing the run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path

import httpx

TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}


class NotAvailable(Exception):
    """The server does not offer what a figure needs (yet)."""


class ApiClient:
    def __init__(self, base_url: str, timeout_s: float = 600):
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=timeout_s)
        self._routes: set[tuple[str, str]] | None = None

    def close(self) -> None:
        self.http.close()

    # -- what the server offers -------------------------------------------------------------------
    def routes(self) -> set[tuple[str, str]]:
        if self._routes is None:
            paths = self.http.get("/openapi.json").raise_for_status().json().get("paths", {})
            self._routes = {(method.upper(), _template(path)) for path, item in paths.items() for method in item}
        return self._routes

    def require(self, *routes: str) -> None:
        """``require("GET /api/v0/executions/{id}", ...)``: NotAvailable unless all are served
        (path parameters match whatever their names)."""
        wanted = [(route, route.split(" ", 1)) for route in routes]
        missing = [route for route, (method, path) in wanted if (method, _template(path)) not in self.routes()]
        if missing:
            raise NotAvailable(f"endpoint not available: {', '.join(missing)}")

    def _check(self, response: httpx.Response) -> dict:
        if response.status_code in (404, 405) and response.headers.get("content-type", "").startswith(
                "application/json") and response.json().get("code") in ("not_found", "method_not_allowed",
                                                                          "http_404", "http_405"):
            raise NotAvailable(f"endpoint not available: {response.request.method} {response.request.url.path}")
        if response.status_code >= 400:
            raise RuntimeError(f"{response.request.method} {response.request.url.path} -> "
                               f"{response.status_code}: {response.text[:500]}")
        return response.json()

    # -- files ----------------------------------------------------------------------------------
    def upload_bytes(self, payload: bytes) -> str:
        return self._check(self.http.post("/api/v0/files", content=payload))["file_id"]

    def upload_path(self, path: Path) -> str:
        with open(path, "rb") as body:  # httpx streams a file object with its Content-Length
            return self._check(self.http.post("/api/v0/files", content=body,
                                              headers={"Content-Type": "application/octet-stream"}))["file_id"]

    def download_bytes(self, file_id: str) -> bytes:
        response = self.http.get(f"/api/v0/files/{file_id}")
        if response.status_code != 200:
            self._check(response)
        return response.content

    def download_count(self, file_id: str, chunk_bytes: int = 2**20) -> int:
        """Stream a file and count its bytes without keeping them (the client stays cheap)."""
        received = 0
        with self.http.stream("GET", f"/api/v0/files/{file_id}") as response:
            if response.status_code != 200:
                response.read()
                self._check(response)
            for chunk in response.iter_raw(chunk_bytes):
                received += len(chunk)
        return received

    def delete_file(self, file_id: str) -> None:
        self.http.delete(f"/api/v0/files/{file_id}")

    # -- algorithms -----------------------------------------------------------------------------
    def deploy_local(self, package_dir: Path) -> str:
        self.require("POST /api/v0/deploy/local")
        response = self.http.post("/api/v0/deploy/local", params={"path": str(package_dir)})
        return self._check(response)["algorithm_id"]

    # -- executions -----------------------------------------------------------------------------
    def execute(self, algorithm_id: str, input_ids: list[str], parameters: dict | None = None) -> str:
        body = {"algorithm_id": algorithm_id, "input_dataset_ids": input_ids, "checkpoint_id": None,
                "algorithm_minor_version": None, "execution_device_override": "cpu",
                "additional_parameters": parameters or {}, "session_token": None}
        return self._check(self.http.post("/api/v0/execute-algorithm", json=body))["execution_id"]

    def execution(self, execution_id: str) -> dict:
        return self._check(self.http.get(f"/api/v0/executions/{execution_id}"))

    def wait_execution(self, execution_id: str, poll_s: float = 0.005, timeout_s: float = 600) -> dict:
        return self._wait(lambda: self.execution(execution_id), poll_s, timeout_s, f"execution {execution_id}")

    def wait_executions(self, execution_ids: Iterable[str], poll_s: float = 0.005,
                        timeout_s: float = 600) -> dict[str, dict]:
        """Poll a set of executions in turn (one request at a time), until all have ended."""
        pending, done = list(execution_ids), {}
        deadline = time.monotonic() + timeout_s
        while pending:
            for execution_id in list(pending):
                record = self.execution(execution_id)
                if record["status"] in TERMINAL:
                    done[execution_id] = record
                    pending.remove(execution_id)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} executions still running after {timeout_s} s")
            if pending:
                time.sleep(poll_s)
        return done

    # -- training -------------------------------------------------------------------------------
    def create_sample(self, files: list[dict[str, list[str]]], tags: list[str] | None = None) -> str:
        return self._check(self.http.post("/api/v0/sample", json={"files": files, "tags": tags or []}))["sample_id"]

    def train(self, algorithm_id: str, sample_ids: list[str], parameters: dict | None = None) -> str:
        body = {"algorithm_id": algorithm_id, "training_data": sample_ids, "checkpoint_id": None,
                "algorithm_minor_version": None, "tags": ["benchmark"], "additional_parameters": parameters or {}}
        return self._check(self.http.post("/api/v0/train-algorithm", json=body))["training_id"]

    def training(self, training_id: str) -> dict:
        return self._check(self.http.get(f"/api/v0/training/{training_id}"))

    def wait_training(self, training_id: str, poll_s: float = 0.05, timeout_s: float = 900) -> dict:
        return self._wait(lambda: self.training(training_id), poll_s, timeout_s, f"training {training_id}")

    def checkpoint(self, checkpoint_id: str) -> dict:
        return self._check(self.http.get(f"/api/v0/checkpoint/{checkpoint_id}"))

    @staticmethod
    def _wait(read, poll_s: float, timeout_s: float, what: str) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            record = read()
            if record["status"] in TERMINAL:
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} still {record['status']} after {timeout_s} s")
            time.sleep(poll_s)


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def require_completed(record: dict, what: str) -> dict:
    if record["status"] != "COMPLETED":
        raise RuntimeError(f"{what} ended {record['status']}: {str(record.get('log'))[-800:]}")
    return record
