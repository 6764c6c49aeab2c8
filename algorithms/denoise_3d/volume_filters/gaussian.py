"""Gaussian smoothing of a whole volume (all three axes at once)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def gaussian_denoise(volume: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(volume.astype(np.float64), sigma=sigma, mode="nearest")
