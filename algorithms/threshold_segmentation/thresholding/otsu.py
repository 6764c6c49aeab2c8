"""Otsu's threshold: the intensity that maximises the variance between the two classes."""

from __future__ import annotations

import numpy as np


def otsu_threshold(volume: np.ndarray, bins: int = 256) -> float:
    values = volume[np.isfinite(volume)].astype(np.float64)
    if values.size == 0 or values.min() == values.max():
        raise ValueError("Otsu's threshold needs at least two distinct intensities.")
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_below = np.cumsum(counts)
    weight_above = weight_below[-1] - weight_below
    sum_below = np.cumsum(counts * centres)
    mean_below = sum_below / np.maximum(weight_below, 1)
    mean_above = (sum_below[-1] - sum_below) / np.maximum(weight_above, 1)
    between = weight_below * weight_above * (mean_below - mean_above) ** 2
    # A cut after bin i puts bins 0..i below: the threshold is that bin's upper edge.
    return float(edges[int(np.argmax(between[:-1])) + 1])
