"""The bundled packages (algorithms/) on real HDF5 slice files, run locally as the server runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compox_ray.algorithms.loader import load_algorithm_from_folder
from compox_ray.algorithms.package_files import PackageLimits, stage_folder
from compox_ray.runners import LocalRunContext
from compox_ray.settings import BUNDLED_ALGORITHMS_DIR

BUNDLED = ["denoise_3d", "threshold_segmentation", "unet3d_denoiser"]


def spheres(seed: int, shape=(24, 32, 32), noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) float32 volumes: a few bright balls on a dark background."""
    rng = np.random.default_rng(seed)
    grid = np.indices(shape)
    clean = np.zeros(shape, np.float32)
    for _ in range(4):
        centre = rng.uniform(5, np.array(shape) - 5)
        radius = rng.uniform(3, 7)
        clean[((grid - centre[:, None, None, None]) ** 2).sum(axis=0) < radius ** 2] = 1.0
    return clean, (clean + rng.normal(scale=noise, size=shape)).astype(np.float32)


def execute(name: str, volume: np.ndarray, tmp_path: Path, replaced_assets=None, **parameters) -> np.ndarray:
    algorithm = load_algorithm_from_folder(BUNDLED_ALGORITHMS_DIR / name, replaced_assets=replaced_assets)
    try:
        with LocalRunContext(tmp_path / name, parameters=algorithm.with_defaults(parameters)) as context:
            output_ids = algorithm.execute(context, context.add_volume(volume))
            assert len(output_ids) == volume.shape[0]
            return context.read_volume(output_ids)
    finally:
        algorithm.close()


def mse(volume: np.ndarray, reference: np.ndarray) -> float:
    return float(np.mean((volume.astype(np.float64) - reference) ** 2))


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_packages_are_valid(name, tmp_path):
    staged = stage_folder(BUNDLED_ALGORITHMS_DIR / name, tmp_path / "staged", PackageLimits(2**30, 1000))
    manifest = staged.metadata.manifest
    assert manifest.description and manifest.tags and manifest.additional_parameters
    assert all(spec.description and spec.config.default is not None for spec in manifest.additional_parameters)


@pytest.mark.parametrize("method", ["gaussian", "tv"])
def test_denoise_3d_reduces_noise(method, tmp_path):
    clean, noisy = spheres(0)
    denoised = execute("denoise_3d", noisy, tmp_path, method=method)
    assert denoised.dtype == np.float32 and denoised.shape == noisy.shape
    assert mse(denoised, clean) < 0.25 * mse(noisy, clean)


def test_denoise_3d_keeps_integer_images_integer(tmp_path):
    clean, noisy = spheres(1)
    scaled = np.clip(noisy * 1000 + 2000, 0, 65535).astype(np.uint16)
    denoised = execute("denoise_3d", scaled, tmp_path, sigma=1.5)
    assert denoised.dtype == np.uint16
    assert mse(denoised, clean * 1000 + 2000) < mse(scaled, clean * 1000 + 2000)


def test_threshold_segmentation_finds_the_balls(tmp_path):
    clean, noisy = spheres(2)
    mask = execute("threshold_segmentation", noisy, tmp_path, smoothing_sigma=1.0)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    assert np.mean(mask == clean) > 0.98
    background = execute("threshold_segmentation", noisy, tmp_path, method="manual", threshold=0.5, invert=True,
                         smoothing_sigma=1.0)
    assert np.mean(background == 1 - clean) > 0.98


def test_unet_ships_as_identity_and_learns_to_denoise(tmp_path):
    weights = BUNDLED_ALGORITHMS_DIR / "unet3d_denoiser" / "files" / "weights.pt"
    assert weights.stat().st_size < 2**20
    clean, noisy = spheres(3, shape=(24, 24, 24), noise=0.4)
    untrained = execute("unet3d_denoiser", noisy, tmp_path)
    np.testing.assert_allclose(untrained, noisy, atol=1e-5)

    algorithm = load_algorithm_from_folder(BUNDLED_ALGORITHMS_DIR / "unet3d_denoiser")
    with LocalRunContext(tmp_path / "train", parameters=algorithm.with_defaults(
            {"epochs": 6, "steps_per_epoch": 8}, training=True)) as context:
        entries = []
        for seed in (10, 11):
            target, source = spheres(seed, shape=(24, 24, 24), noise=0.4)
            entries.append({"input": context.add_volume(source), "target": [context.add_item(volume=target)]})
        algorithm.train(context, [context.add_sample(entries)])
        (checkpoint,) = context.checkpoints.values()
    algorithm.close()
    properties = checkpoint["properties"]
    assert properties["validation_loss"] < properties["initial_validation_loss"]
    assert set(checkpoint["assets"]) == {"files/weights.pt"}
    trained_weights = tmp_path / "trained.pt"
    trained_weights.write_bytes(checkpoint["assets"]["files/weights.pt"])
    trained = execute("unet3d_denoiser", noisy, tmp_path, replaced_assets={"files/weights.pt": trained_weights})
    assert mse(trained, clean) < mse(noisy, clean)
