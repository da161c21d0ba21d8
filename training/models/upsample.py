"""A trunk that sees the face crop at ImageNet's scale: bilinear upsampling before MobileNetV2.

Why: the crop cache and the runtime cut 128-px faces, close to the native size of the faces in
the live-swap footage, so a larger crop would carry no more pixels. What changes with the input
size is the scale at which the ImageNet filters meet the face: trained on 224-px images, the
stem's and early blocks' 3x3 kernels see a 128-px face's fine texture (the generator's smoothing,
the blend's resampling) at 0.57 times the scale they learned on, and the last map is 4 x 4 cells.
Upsampling to 224 px inside the network (a 7 x 7 map) tests whether that scale, not the pixels,
is what the short fine-tune lacks, at about three times the encoder's compute and with no change
to the crop the runtime cuts.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from training.models.mobilenetv2 import MobileNetV2Features
from training.models.trunk import ImageNetTrunk

# 128-px crops -> 224 px, the input size of the ImageNet weights
UPSAMPLE_FACTOR = 1.75


@lru_cache(maxsize=8)
def bilinear_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """``(n_out, n_in)`` weights of 1-D bilinear resizing with half-pixel centres and clamped
    edges: ``matrix @ line`` is ``F.interpolate(..., mode="bilinear", align_corners=False)``
    along one axis. Computed in float64, then stored as float32; cached, because a model sees one
    crop size and every forward pass asks for the same two matrices (callers must not modify it)."""
    scale = n_in / n_out
    source = ((torch.arange(n_out, dtype=torch.float64) + 0.5) * scale - 0.5).clamp(min=0.0)
    lower = source.floor().long().clamp(max=n_in - 1)
    upper = (lower + 1).clamp(max=n_in - 1)
    frac = source - lower.double()
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    matrix[rows, lower] += 1.0 - frac
    matrix[rows, upper] += frac
    return matrix.float()


class UpsampledInput(ImageNetTrunk):
    """Mixin: the trunk's blocks see the crop bilinearly resized by ``UPSAMPLE_FACTOR``. Listed
    before the trunk class, so the trunk builds its blocks (and loads ImageNet weights) exactly as
    without it; the factor is fixed by code, so checkpoints need no key for it.

    The resize is two matrix products, not ``F.interpolate``: ONNX Runtime's Resize computes
    bilinear weights differently in the last bits (3e-5 on unit inputs), which the trunk amplifies
    past the export's 1e-4 parity limit, while a MatMul with the same constant weights agrees.
    A model's crop size is fixed (it is in the artifact's metadata), so the matrices are constants
    of the exported graph."""

    upsample_factor = UPSAMPLE_FACTOR

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        rows = bilinear_matrix(h, round(h * self.upsample_factor)).to(x.device, x.dtype)
        cols = bilinear_matrix(w, round(w * self.upsample_factor)).to(x.device, x.dtype)
        upsampled = rows @ x.contiguous() @ cols.T
        return self.features(upsampled)  # type: ignore[no-any-return]


class MobileNetV2Upsampled(UpsampledInput, MobileNetV2Features):
    """MobileNetV2 on the crop upsampled to ImageNet's 224 px (ImageNet weights load unchanged)."""
