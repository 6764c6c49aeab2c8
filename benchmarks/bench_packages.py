"""The algorithm packages of the workload (``benchmarks/packages/``) and the bundled denoiser.

Large assets are written at bench time, never committed: the warm-model package's 200 MB of
weights and the trainer's initial weights. The same folders deploy to both servers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PACKAGES = Path(__file__).resolve().parent / "packages"
BUNDLED = Path(__file__).resolve().parent.parent / "algorithms"
WARM_WEIGHTS_MB = 200


def prepare() -> dict[str, Path]:
    """Write the generated assets (once; they are reused by later runs) and name every package."""
    weights = PACKAGES / "warm_weights" / "files" / "weights.npy"
    if not weights.exists() or weights.stat().st_size < WARM_WEIGHTS_MB * 10**6:
        weights.parent.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        np.save(weights, rng.random(WARM_WEIGHTS_MB * 10**6 // 4, dtype=np.float32))
    trainer_weights = PACKAGES / "trainer" / "files" / "weights.npy"
    if not trainer_weights.exists():
        trainer_weights.parent.mkdir(exist_ok=True)
        np.save(trainer_weights, np.zeros(16, np.float32))
    return {"passthrough": PACKAGES / "passthrough", "warm_weights": PACKAGES / "warm_weights",
            "trainer": PACKAGES / "trainer", "stepper": PACKAGES / "stepper", "denoiser": denoiser_package()}


def denoiser_package() -> Path:
    """The bundled 3-D denoiser (Gaussian or total variation): the realistic job runs it on both servers."""
    return BUNDLED / "denoise_3d"
