"""TinyUNet3D: two resolution levels, a residual output.

The output is ``input + head(features)`` with the head initialised to zero, so the untrained
network is the identity: training can only move it towards the targets, never start from noise.
Spatial sizes must be even (one 2x down-sampling); ``pad_to_even`` takes care of that.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

CHANNELS = (8, 16)


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv3d(out_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True))


class TinyUNet3D(nn.Module):
    def __init__(self, channels: tuple[int, int] = CHANNELS):
        super().__init__()
        fine, coarse = channels
        self.encode_fine = conv_block(1, fine)
        self.encode_coarse = conv_block(fine, coarse)
        self.upsample = nn.ConvTranspose3d(coarse, fine, kernel_size=2, stride=2)
        self.decode_fine = conv_block(2 * fine, fine)
        self.head = nn.Conv3d(fine, 1, kernel_size=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        fine = self.encode_fine(volume)
        coarse = self.encode_coarse(functional.max_pool3d(fine, 2))
        features = self.decode_fine(torch.cat([self.upsample(coarse), fine], dim=1))
        return volume + self.head(features)


def pad_to_even(volume: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """Pad the last three axes (replicating edges) to even sizes; answers the original sizes."""
    depth, height, width = volume.shape[-3:]
    padding = (0, width % 2, 0, height % 2, 0, depth % 2)
    if any(padding):
        volume = functional.pad(volume, padding, mode="replicate")
    return volume, (depth, height, width)
