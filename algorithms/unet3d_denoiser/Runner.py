"""A tiny 3-D U-Net that denoises a volume; trainable on (input, target) volume pairs."""

from __future__ import annotations

import copy
import io
import time
from typing import Optional

import numpy as np
import torch
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner
from compox.algorithm_utils.io_schemas import DataSchema

from unet3d.network import TinyUNet3D
from unet3d.volumes import denoise_volume, normalisation, random_patches

WEIGHTS = "files/weights.pt"


class SliceOrVolume(DataSchema):
    """Training items are 2-D slices (``image``) or whole volumes (``volume``)."""

    image: Optional[np.ndarray] = None
    volume: Optional[np.ndarray] = None


def torch_device(requested: str) -> torch.device:
    if requested.startswith("cuda") and not torch.cuda.is_available():
        return torch.device("cpu")
    if requested == "mps" and not torch.backends.mps.is_available():
        return torch.device("cpu")
    return torch.device(requested)


class Runner(Image2ImageRunner):
    def load_assets(self):
        self.torch_device = torch_device(self.device)
        state = torch.load(self.fetch_asset(WEIGHTS), map_location="cpu", weights_only=True)
        model = TinyUNet3D()
        model.load_state_dict(state)
        self.model = model.to(self.torch_device).eval()

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        args = args or {}
        volume = data.astype(np.float32)
        offset, scale = normalisation(volume)
        self.log_message(f"Denoising a {'x'.join(map(str, volume.shape))} volume on {self.torch_device}.")
        denoised = denoise_volume(self.model, (volume - offset) / scale, self.torch_device,
                                  int(args.get("tile_size", 64)), progress=lambda done: self.set_progress(0.9 * done))
        return restore_dtype(denoised * scale + offset, data.dtype)

    def benchmark(self, args: dict | None = None) -> dict:
        """Inference speed on a synthetic volume (no uploaded data needed)."""
        volume = np.random.default_rng(0).normal(size=(32, 64, 64)).astype(np.float32)
        started = time.perf_counter()
        denoise_volume(self.model, volume, self.torch_device, int((args or {}).get("tile_size", 64)))
        return {"seconds_per_megavoxel": (time.perf_counter() - started) / (volume.size / 1e6)}

    # -- training ---------------------------------------------------------------------------------
    def read_volume(self, file_ids: list[str]) -> np.ndarray:
        items = BaseRunner.fetch_data(self, file_ids, SliceOrVolume, parallel=True)
        if len(items) == 1 and items[0]["volume"] is not None:
            return items[0]["volume"].astype(np.float32)
        if any(item["image"] is None for item in items):
            raise ValueError("Training files must hold one 'volume' each, or one 2-D 'image' per slice.")
        return np.stack([item["image"] for item in items]).astype(np.float32)

    def training_pairs(self, training_data: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        dataset = self.get_training_dataset(training_data)
        if not {"input", "target"} <= set(dataset.get_sample_keys()):
            raise ValueError(f"Samples need 'input' and 'target' files, they have {dataset.get_sample_keys()}.")
        pairs = []
        for sample in dataset:
            for entry in sample.get_file_list():
                source, target = self.read_volume(entry["input"]), self.read_volume(entry["target"])
                if source.shape != target.shape:
                    raise ValueError(f"Sample {sample.sample_id}: input {source.shape} and target "
                                     f"{target.shape} differ.")
                offset, scale = normalisation(source)
                pairs.append(((source - offset) / scale, (target - offset) / scale))
        return pairs

    def train(self, training_data: list[str], args: dict | None = None) -> None:
        args = args or {}
        seed = int(args.get("seed", 0))
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        patch = int(args.get("patch_size", 16))
        train_pairs, validation_pairs = split_along_depth(self.training_pairs(training_data),
                                                          float(args.get("validation_fraction", 0.25)), patch)
        patch = min([patch, *(min(source.shape) for source, _ in train_pairs)])
        model = copy.deepcopy(self.model).train()  # the warm model is shared with executions: train a copy
        optimiser = torch.optim.Adam(model.parameters(), lr=float(args.get("learning_rate", 0.003)))
        epochs, steps = int(args.get("epochs", 30)), int(args.get("steps_per_epoch", 16))
        initial = best = validation_loss(model, validation_pairs, self.torch_device)
        best_state, best_epoch, train_loss = copy.deepcopy(model.state_dict()), 0, float("nan")
        self.log_message(f"Training on {len(train_pairs)} volume(s); initial validation loss {initial:.6f}.")
        for epoch in range(1, epochs + 1):
            model.train()
            losses = []
            for _ in range(steps):
                inputs, targets = random_patches(train_pairs, patch, int(args.get("batch_size", 8)), rng)
                loss = torch.nn.functional.mse_loss(model(inputs.to(self.torch_device)), targets.to(self.torch_device))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
            train_loss = float(np.mean(losses))
            current = validation_loss(model, validation_pairs, self.torch_device)
            if current < best:
                best, best_epoch, best_state = current, epoch, copy.deepcopy(model.state_dict())
            self.set_state({"epoch": epoch, "epochs": epochs, "train_loss": train_loss, "validation_loss": current,
                            "best_validation_loss": best, "initial_validation_loss": initial})
            self.log_message(f"Epoch {epoch}/{epochs}: train loss {train_loss:.6f}, validation loss {current:.6f}.")
            self.set_progress(epoch / epochs)
        buffer = io.BytesIO()
        torch.save({name: tensor.cpu() for name, tensor in best_state.items()}, buffer)
        self.save_checkpoint({WEIGHTS: buffer.getvalue()}, properties={
            "initial_validation_loss": initial, "validation_loss": best, "best_epoch": best_epoch,
            "final_train_loss": train_loss, "epochs": epochs, "learning_rate": float(args.get("learning_rate", 0.003)),
            "patch_size": patch, "training_volumes": len(train_pairs)})


def split_along_depth(pairs: list, fraction: float, patch: int) -> tuple[list, list]:
    """Hold out the last ``fraction`` of each volume's depth for validation (all of it for training
    when a volume is too thin to split, or when the fraction is 0)."""
    training, validation = [], []
    for source, target in pairs:
        held = int(round(source.shape[0] * fraction))
        if fraction <= 0 or held < 2 or source.shape[0] - held < min(patch, source.shape[0]):
            training.append((source, target))
            validation.append((source, target))
            continue
        training.append((source[:-held], target[:-held]))
        validation.append((source[-held:], target[-held:]))
    return training, validation


@torch.no_grad()
def validation_loss(model: torch.nn.Module, pairs: list, device: torch.device) -> float:
    model.eval()
    losses = [np.mean((denoise_volume(model, source, device, tile=64) - target) ** 2) for source, target in pairs]
    return float(np.mean(losses))


def restore_dtype(volume: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float output for float input; integer input gets its own type back, rounded and clipped."""
    if np.issubdtype(dtype, np.integer):
        limits = np.iinfo(dtype)
        return np.clip(np.rint(volume), limits.min, limits.max).astype(dtype)
    return volume.astype(np.float32 if dtype != np.float64 else np.float64)
