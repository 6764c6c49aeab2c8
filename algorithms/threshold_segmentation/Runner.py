"""Binary segmentation of a stack of slices by a global threshold: Otsu's, or one given."""

from __future__ import annotations

import numpy as np
from compox.algorithm_utils.Image2SegmentationRunner import Image2SegmentationRunner
from scipy import ndimage

from thresholding.masks import fill_holes, largest_component
from thresholding.otsu import otsu_threshold


class Runner(Image2SegmentationRunner):
    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        args = args or {}
        volume = data.astype(np.float64)
        sigma = float(args.get("smoothing_sigma", 0.0))
        if sigma > 0:
            volume = ndimage.gaussian_filter(volume, sigma=sigma, mode="nearest")
        method = args.get("method", "otsu")
        if method == "otsu":
            threshold = otsu_threshold(volume)
        elif method == "manual":
            threshold = float(args.get("threshold", 0.5))
        else:
            raise ValueError(f"unknown method {method!r}: use 'otsu' or 'manual'")
        mask = volume < threshold if args.get("invert", False) else volume >= threshold
        self.set_progress(0.5)
        if args.get("fill_holes", False):
            mask = fill_holes(mask)
        if args.get("keep_largest_component", False):
            mask = largest_component(mask)
        self.log_message(f"Threshold {threshold:.6g} ({method}); foreground {100 * mask.mean():.2f} % of the voxels.")
        return mask.astype(np.uint8)
