"""Send a package to a running server: a folder is zipped here (caches left out), a .zip goes as is.

What ``compox-ray deploy`` calls; usable from notebooks too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from compox_ray.algorithms.package_files import iter_folder_files
from compox_ray.algorithms.package_zip import write_package_zip

DEFAULT_URL = "http://127.0.0.1:5481"


class DeployFailed(Exception):
    def __init__(self, path: Path, status: int, code: str, detail: str):
        super().__init__(f"{path}: {status} {code}: {detail}")
        self.path, self.status, self.code, self.detail = path, status, code, detail


def deploy_package(path: Path | str, url: str = DEFAULT_URL, *, token: str | None = None,
                   overrides: dict | None = None, timeout_s: float = 900) -> dict:
    """POST the package to ``{url}/api/v0/deploy``; the AlgorithmDeployResponse as a dict."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    headers = {"Content-Type": "application/zip"} | ({"Authorization": f"Bearer {token}"} if token else {})
    params = {name: str(value).lower() if isinstance(value, bool) else value
              for name, value in (overrides or {}).items() if value is not None}
    with tempfile.TemporaryDirectory() as scratch:
        if path.is_dir():
            archive = Path(scratch) / "package.zip"
            write_package_zip(iter_folder_files(path), archive)
        elif path.suffix.lower() == ".zip":
            archive = path
        else:
            raise ValueError(f"{path} is neither a package folder nor a .zip file")
        with open(archive, "rb") as body:
            response = httpx.post(f"{url.rstrip('/')}/api/v0/deploy", content=body, params=params, headers=headers,
                                  timeout=timeout_s)
    if response.status_code != 200:
        try:
            error = response.json()
        except ValueError:
            error = {"code": f"http_{response.status_code}", "detail": response.text[:500]}
        raise DeployFailed(path, response.status_code, error.get("code", ""), str(error.get("detail", "")))
    return response.json()
