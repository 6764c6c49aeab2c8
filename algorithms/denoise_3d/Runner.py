"""Denoises a stack of slices as one 3-D volume: Gaussian smoothing or total-variation denoising."""

from __future__ import annotations

import time

import numpy as np
from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner

from volume_filters.gaussian import gaussian_denoise
from volume_filters.total_variation import tv_denoise


class Runner(Image2ImageRunner):
    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        args = args or {}
        method = args.get("method", "gaussian")
        self.log_message(f"Denoising a {'x'.join(map(str, data.shape))} volume with the {method} method.")
        if data.ndim != 3:
            raise ValueError("denoise_3d works on grayscale slices: each input image must be 2-D.")
        if method == "gaussian":
            denoised = gaussian_denoise(data, float(args.get("sigma", 1.0)))
        elif method == "tv":
            denoised = tv_denoise(data, float(args.get("tv_weight", 0.1)), int(args.get("tv_iterations", 50)),
                                  progress=lambda done: self.set_progress(0.9 * done))
        else:
            raise ValueError(f"unknown method {method!r}: use 'gaussian' or 'tv'")
        self.set_progress(0.9)
        return restore_dtype(denoised, data.dtype)

    def benchmark(self, args: dict | None = None) -> dict:
        """Seconds per megavoxel of each method on a synthetic 16x64x64 volume (no uploads needed),
        with the parameters given (or their defaults)."""
        args = args or {}
        volume = np.random.default_rng(0).normal(size=(16, 64, 64)).astype(np.float32)
        megavoxels = volume.size / 1e6
        started = time.perf_counter()
        gaussian_denoise(volume, float(args.get("sigma", 1.0)))
        gaussian_s = time.perf_counter() - started
        self.set_progress(0.3)
        started = time.perf_counter()
        tv_denoise(volume, float(args.get("tv_weight", 0.1)), int(args.get("tv_iterations", 50)))
        tv_s = time.perf_counter() - started
        self.log_message(f"Gaussian {gaussian_s:.3f} s, total variation {tv_s:.3f} s on {megavoxels:.2f} megavoxels.")
        return {"gaussian_seconds_per_megavoxel": gaussian_s / megavoxels, "tv_seconds_per_megavoxel": tv_s / megavoxels}


def restore_dtype(volume: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Integer input gets its own type back (rounded, clipped); float input float32 (float64 stays)."""
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        return np.clip(np.rint(volume), limits.min, limits.max).astype(dtype)
    return volume.astype(np.float64 if dtype == np.float64 else np.float32)
