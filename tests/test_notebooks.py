"""The notebooks run top to bottom in a real Jupyter kernel (nbclient) against the test server,
which they find through COMPOX_RAY_URL as a user's notebook would. A last cell, added here and not
part of the notebook, prints what the test checks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(name: str, checks: str) -> tuple[nbformat.NotebookNode, dict]:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(f"import json as _json\nprint(_json.dumps({checks}))"))
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    printed = [output["text"] for output in notebook.cells[-1].outputs if output.get("name") == "stdout"]
    return notebook, json.loads("".join(printed))


@pytest.fixture
def notebook_environment(local_server, monkeypatch):
    """What a user sets before starting Jupyter; the kernel inherits it."""
    monkeypatch.setenv("COMPOX_RAY_URL", local_server.url)
    monkeypatch.delenv("COMPOX_RAY_TOKEN", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")


def errors_of(notebook: nbformat.NotebookNode) -> list:
    return [output for cell in notebook.cells for output in cell.get("outputs", []) if output["output_type"] == "error"]


def test_quickstart_notebook(notebook_environment):
    notebook, seen = run_notebook("01_quickstart.ipynb", """{
        "before": float(np.mean((noisy - clean) ** 2)), "after": float(np.mean((denoised["image"] - clean) ** 2)),
        "mask_shape": list(mask.shape), "shape": list(clean.shape),
        "mask_in_balls": float(mask[clean > 0].mean()), "mask_outside": float(mask[clean == 0].mean()),
        "refused": [refused.status, refused.code], "errors": errors, "figures": plt.get_fignums()}""")
    assert errors_of(notebook) == []
    assert seen["after"] < seen["before"] / 2
    assert seen["mask_shape"] == seen["shape"] and seen["mask_in_balls"] > 0.8 > 0.2 > seen["mask_outside"]
    assert seen["refused"] == [422, "invalid_parameters"]
    assert len(seen["errors"]) == 3 and all(error < seen["before"] for error in seen["errors"].values())
    assert seen["figures"], "the before/after figure was drawn"


def test_training_notebook(notebook_environment):
    notebook, seen = run_notebook("02_training.ipynb", """{
        "statuses": [t["status"] for t in trainings], "rows": table.num_rows,
        "best": best["checkpoint_id"], "checkpoints": [t["output_checkpoint_ids"][0] for t in trainings],
        "untrained": untrained_error, "trained": trained_error,
        "exported": sorted(zipfile.ZipFile(exported).namelist()),
        "tags": client.checkpoint(best["checkpoint_id"])["tags"], "experiment": experiment}""")
    assert errors_of(notebook) == []
    assert seen["statuses"] == ["COMPLETED", "COMPLETED"] and seen["rows"] == 2
    assert seen["best"] in seen["checkpoints"]
    assert seen["trained"] < seen["untrained"]
    assert {"Runner.py", "pyproject.toml", "files/weights.pt"} <= set(seen["exported"])
    assert seen["experiment"] in seen["tags"]
