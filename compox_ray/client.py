"""A Python client for notebooks and scripts: numpy in, numpy out.

    client = CompoxClient("http://127.0.0.1:5481")
    slices = client.upload_volume(volume)                      # one 2-D slice per file, key "image"
    record = client.execute("denoise", slices, sigma=1.5)      # waits, with a progress line
    result = client.download_volume(record["output_dataset_ids"])

Talks the same REST API as any Compox client; waiting follows the run's server-sent events.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import h5py
import httpx
import numpy as np

TERMINAL = ("COMPLETED", "FAILED", "STOPPED")


class RunFailed(RuntimeError):
    """A run that ended FAILED or STOPPED; ``record`` holds it, its ``log`` says why."""

    def __init__(self, record: dict):
        self.record = record
        super().__init__(f"{record['status']}: {record.get('log', '')[-2000:]}")


class CompoxError(RuntimeError):
    """An error answer of the server: ``status``, ``code`` (what to branch on), ``detail``."""

    def __init__(self, response: httpx.Response):
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        self.status, self.code = response.status_code, body.get("code", "")
        self.detail, self.details = body.get("detail", response.text), body.get("details", {})
        super().__init__(f"{self.status} {self.code}: {self.detail}")


def item_bytes(**datasets: np.ndarray) -> bytes:
    """One Compox item file: flat top-level datasets named after schema fields."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as item:
        for key, array in datasets.items():
            item.create_dataset(key, data=np.asarray(array))
    return buffer.getvalue()


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def read_item(data: bytes) -> dict[str, np.ndarray]:
    with h5py.File(io.BytesIO(data), "r") as item:
        return {key: item[key][()] for key in item.keys()}


class CompoxClient:
    def __init__(self, url: str = "http://127.0.0.1:5481", token: str | None = None, timeout_s: float = 300):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s, headers=headers)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CompoxClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise CompoxError(response)
        return response

    # -- files ----------------------------------------------------------------------------------
    def upload(self, **datasets: np.ndarray) -> str:
        return self._call("POST", "/api/v0/files", content=item_bytes(**datasets)).json()["file_id"]

    def upload_volume(self, volume: np.ndarray, key: str = "image") -> list[str]:
        """Compox's image convention: one file per slice along axis 0."""
        return [self.upload(**{key: plane}) for plane in np.asarray(volume)]

    def download(self, file_id: str) -> dict[str, np.ndarray]:
        return read_item(self._call("GET", f"/api/v0/files/{file_id}").content)

    def download_volume(self, file_ids: list[str], key: str = "image") -> np.ndarray:
        return np.stack([self.download(file_id)[key] for file_id in file_ids])

    def delete(self, file_id: str) -> None:
        self._call("DELETE", f"/api/v0/files/{file_id}")

    # -- algorithms -----------------------------------------------------------------------------
    def algorithms(self, **filters) -> list[dict]:
        return self._call("GET", "/api/v0/algorithm/all", params=filters).json()

    def algorithm(self, name: str, major: int | str | None = None) -> dict:
        """By name (case-insensitive); the highest major unless one is given."""
        if major is not None:
            return self._call("GET", f"/api/v0/algorithm/{name}/{major}").json()
        matches = [a for a in self.algorithms() if a["algorithm_name"].lower() == name.lower()]
        if not matches:
            raise KeyError(f"no algorithm named {name!r}")
        return max(matches, key=lambda a: int(a["algorithm_version"]))

    def deploy(self, package: str | Path) -> dict:
        """A package folder (zipped here) or a zip of one."""
        package = Path(package)
        body = package.read_bytes() if package.is_file() else zip_folder(package)
        return self._call("POST", "/api/v0/deploy", content=body, headers={"Content-Type": "application/zip"}).json()

    def _algorithm_id(self, algorithm: str) -> str:
        try:
            return self.algorithm(algorithm)["algorithm_id"]
        except KeyError:
            return algorithm  # already an id

    # -- executions -----------------------------------------------------------------------------
    def execute(self, algorithm: str, inputs: list[str], *, wait: bool = True, device: str | None = None,
                checkpoint_id: str | None = None, session_token: str | None = None, minor: str | None = None,
                progress: bool = True, **parameters) -> dict:
        body = {"algorithm_id": self._algorithm_id(algorithm), "input_dataset_ids": inputs,
                "additional_parameters": parameters, "execution_device_override": device,
                "checkpoint_id": checkpoint_id, "session_token": session_token, "algorithm_minor_version": minor}
        execution_id = self._call("POST", "/api/v0/execute-algorithm", json=body).json()["execution_id"]
        return self.wait(f"/api/v0/executions/{execution_id}", progress) if wait else {"execution_id": execution_id}

    def execution(self, execution_id: str) -> dict:
        return self._call("GET", f"/api/v0/executions/{execution_id}").json()

    def stop(self, execution_id: str) -> None:
        self._call("POST", f"/api/v0/executions/{execution_id}/stop")

    # -- training -------------------------------------------------------------------------------
    def create_sample(self, files: list[dict[str, list[str]]], tags: list[str] = ()) -> str:
        return self._call("POST", "/api/v0/sample", json={"files": files, "tags": list(tags)}).json()["sample_id"]

    def train(self, algorithm: str, samples: list[str], *, wait: bool = True, tags: list[str] = (),
              checkpoint_id: str | None = None, progress: bool = True, **parameters) -> dict:
        body = {"algorithm_id": self._algorithm_id(algorithm), "training_data": samples, "tags": list(tags),
                "checkpoint_id": checkpoint_id, "additional_parameters": parameters}
        training_id = self._call("POST", "/api/v0/train-algorithm", json=body).json()["training_id"]
        return self.wait(f"/api/v0/training/{training_id}", progress) if wait else {"training_id": training_id}

    def checkpoint(self, checkpoint_id: str) -> dict:
        return self._call("GET", f"/api/v0/checkpoint/{checkpoint_id}").json()

    def checkpoints(self, positive_tags: list[str] = (), negative_tags: list[str] = ()) -> list[dict]:
        params = {"positive_tags": list(positive_tags), "negative_tags": list(negative_tags)}
        return self._call("GET", "/api/v0/checkpoint/all", params=params).json()

    def export(self, name: str, major: int | str, target: str | Path, checkpoint_id: str | None = None) -> Path:
        params = {"checkpoint_id": checkpoint_id} if checkpoint_id else {}
        with self.http.stream("GET", f"/api/v0/algorithm/{name}/{major}/export", params=params) as response:
            if response.status_code >= 400:
                response.read()
                raise CompoxError(response)
            with open(target, "wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        return Path(target)

    # -- following a run ------------------------------------------------------------------------
    def wait(self, record_path: str, progress: bool = True) -> dict:
        """Follow the run's events until it ends; a line on stderr shows status and progress.
        A run that does not complete raises RunFailed."""
        last_id, record = "", None
        while record is None or record["status"] not in TERMINAL:
            headers = {"Last-Event-ID": last_id} if last_id else {}
            with self.http.stream("GET", f"{record_path}/events", headers=headers, timeout=None) as stream:
                if stream.status_code >= 400:
                    stream.read()
                    raise CompoxError(stream)
                for line in stream.iter_lines():
                    if line.startswith("id: "):
                        last_id = line[4:]
                    elif line.startswith("data: "):
                        record = json.loads(line[6:])
                        if progress:
                            print(f"\r{record['status']:<9} {record['progress'] * 100:5.1f}%", end="", file=sys.stderr)
        if progress:
            print(file=sys.stderr)
        if record["status"] != "COMPLETED":
            raise RunFailed(record)
        return record
