"""Decoder-rendered pseudo-fakes: a real crop whose face is replaced by an autoencoder's rendering of it.

Why: a live swapper (DeepFaceLive, Deep-Live-Cam) does not paste camera pixels; it renders the face
with a decoder and blends that rendering back into the camera frame. Self-blending and transplants
(training.sbi, training.transplant) paste real pixels, so the one trace every live swap shares, a
face region that a decoder drew (pixel-shuffle upsampling, no sensor noise, smoothed skin) inside a
stream the camera drew, is absent from them. Here a small autoencoder of DeepFaceLive's shape
(strided convolutions down, convolution + pixel shuffle up) is trained on the real training crops,
and a pseudo-fake is a real crop with its own reconstruction pasted into the face region, colour
matched: same person, pose, expression and stream, only the rendering differs.

Budget: the autoencoder trains in about 5 minutes on two cores (1,500 steps of 32 crops at 128 px);
reconstructing the real crops once afterwards takes seconds. The autoencoder is trained on the
training run's own fit identities, so a cross-validation fold never sees its held-out faces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from realtime.atomic import atomic_path
from training.transplant import paste, transplant_mask


def _down(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 2, 1), nn.LeakyReLU(0.1))


def _up(c_in: int, c_out: int) -> nn.Module:
    """DeepFaceLive's upscale block: a convolution to 4x the channels, then depth-to-space."""
    return nn.Sequential(nn.Conv2d(c_in, c_out * 4, 3, 1, 1), nn.LeakyReLU(0.1), nn.PixelShuffle(2))


class FaceAutoencoder(nn.Module):
    """Crop ``(B, 3, S, S)`` in 0..1 -> its rendering, through a ``(code, S/8, S/8)`` bottleneck."""

    def __init__(self, width: int = 16, code: int = 48) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            _down(3, width),
            _down(width, 2 * width),
            _down(2 * width, 4 * width),
            nn.Conv2d(4 * width, code, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(code, 4 * width, 1),
            nn.LeakyReLU(0.1),
            _up(4 * width, 2 * width),
            _up(2 * width, width),
            _up(width, width // 2),
            nn.Conv2d(width // 2, 3, 3, 1, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.decoder(self.encoder(x)))


def _to_tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div(255)


def train_autoencoder(
    crops: np.ndarray,
    steps: int,
    rng: np.random.Generator,
    batch: int = 32,
    lr: float = 5e-4,
    progress: bool = True,
) -> FaceAutoencoder:
    """An autoencoder fitted to ``crops`` (``(N, S, S, 3)`` uint8 RGB) by L1 loss, with flips."""
    if len(crops) == 0:
        raise ValueError("no real crops to train the renderer on")
    model = FaceAutoencoder()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in tqdm(range(steps), desc="renderer", unit="step", disable=not progress):
        picked = crops[rng.integers(len(crops), size=batch)]
        flips = rng.random(batch) < 0.5
        picked[flips] = picked[flips, :, ::-1]
        x = _to_tensor(picked)
        loss = (model(x) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def reconstruct(model: FaceAutoencoder, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    """``crops`` rendered by ``model``, uint8 of the same shape."""
    out = np.empty_like(crops)
    for start in range(0, len(crops), batch):
        y = model(_to_tensor(crops[start : start + batch]))
        out[start : start + batch] = (y.permute(0, 2, 3, 1).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    return out


def rendered_fake(
    crop: np.ndarray, rendering: np.ndarray, mesh: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(fake, mask)``: ``rendering`` pasted into ``crop``'s face region (its face oval or inner
    face, eroded or dilated and feathered, colour matched), and where the fake is."""
    mask = transplant_mask(crop, mesh, rng)
    return paste(rendering, crop, mask), mask


def save_autoencoder(model: FaceAutoencoder, path: Path) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(model.state_dict(), tmp)


def load_autoencoder(path: Path) -> FaceAutoencoder:
    model = FaceAutoencoder()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()
