"""Volumes in and out of the network: normalisation, tiled inference, training patches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from unet3d.network import pad_to_even


def normalisation(volume: np.ndarray) -> tuple[float, float]:
    """(offset, scale) that bring the volume to zero mean and unit spread."""
    offset = float(volume.mean())
    scale = float(volume.std())
    return offset, scale if scale > 1e-12 else 1.0


def tile_slices(shape: tuple[int, ...], tile: int, halo: int) -> Iterator[tuple[tuple, tuple, tuple]]:
    """(region to read, region to write, part of the read region to keep) for every tile.

    Tiles are read with ``halo`` voxels of context on each side, so the network sees the same
    neighbourhood as for the whole volume and no seams appear where tiles meet.
    """
    starts = [range(0, size, tile) for size in shape]
    for corner in np.ndindex(*[len(axis) for axis in starts]):
        read, write, keep = [], [], []
        for axis, index in enumerate(corner):
            begin = starts[axis][index]
            end = min(begin + tile, shape[axis])
            low, high = max(begin - halo, 0), min(end + halo, shape[axis])
            read.append(slice(low, high))
            write.append(slice(begin, end))
            keep.append(slice(begin - low, begin - low + end - begin))
        yield tuple(read), tuple(write), tuple(keep)


@torch.no_grad()
def denoise_volume(model: torch.nn.Module, volume: np.ndarray, device: torch.device, tile: int,
                   progress=None) -> np.ndarray:
    """The network applied to a whole (normalised) volume, tile by tile."""
    result = np.empty(volume.shape, dtype=np.float32)
    tiles = list(tile_slices(volume.shape, tile, halo=8))
    for number, (read, write, keep) in enumerate(tiles, start=1):
        block = torch.from_numpy(np.ascontiguousarray(volume[read], dtype=np.float32))[None, None].to(device)
        padded, (depth, height, width) = pad_to_even(block)
        output = model(padded)[0, 0, :depth, :height, :width].cpu().numpy()
        result[write] = output[keep]
        if progress is not None:
            progress(number / len(tiles))
    return result


def random_patches(volumes: list[tuple[np.ndarray, np.ndarray]], size: int, count: int,
                   rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` aligned (input, target) cubes of side ``size`` from random places of random volumes."""
    inputs, targets = [], []
    for _ in range(count):
        source, target = volumes[rng.integers(len(volumes))]
        corner = [rng.integers(0, extent - size + 1) for extent in source.shape]
        region = tuple(slice(begin, begin + size) for begin in corner)
        inputs.append(source[region])
        targets.append(target[region])
    return (torch.from_numpy(np.stack(inputs)[:, None].astype(np.float32)),
            torch.from_numpy(np.stack(targets)[:, None].astype(np.float32)))
