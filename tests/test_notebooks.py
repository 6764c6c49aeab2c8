"""The notebooks run top to bottom against a real server (their code cells, in one namespace)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(path: Path, url: str) -> dict:
    namespace: dict = {}
    import os

    os.environ["COMPOX_URL"] = url
    try:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)
    finally:
        os.environ.pop("COMPOX_URL", None)
    return namespace


def test_quickstart_notebook(local_server):
    result = run_notebook(NOTEBOOKS / "quickstart.ipynb", local_server.url)
    clean, noisy, denoised = result["clean"], result["noisy"], result["denoised"]
    assert np.mean((denoised - clean) ** 2) < np.mean((noisy - clean) ** 2)
    assert result["mask"].shape == clean.shape
    held_clean = result["held_clean"]
    assert np.mean((result["trained"] - held_clean) ** 2) < np.mean((result["untrained"] - held_clean) ** 2)
    assert result["checkpoint"]["tags"] == ["notebook"]
