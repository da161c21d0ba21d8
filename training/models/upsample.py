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

import torch
import torch.nn.functional as F

from training.models.mobilenetv2 import MobileNetV2Features
from training.models.trunk import ImageNetTrunk

# 128-px crops -> 224 px, the input size of the ImageNet weights
UPSAMPLE_FACTOR = 1.75


class UpsampledInput(ImageNetTrunk):
    """Mixin: the trunk's blocks see the crop bilinearly resized by ``UPSAMPLE_FACTOR``. Listed
    before the trunk class, so the trunk builds its blocks (and loads ImageNet weights) exactly as
    without it; the factor is fixed by code, so checkpoints need no key for it."""

    upsample_factor = UPSAMPLE_FACTOR

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(x, scale_factor=self.upsample_factor, mode="bilinear", align_corners=False)
        return self.features(upsampled)  # type: ignore[no-any-return]


class MobileNetV2Upsampled(UpsampledInput, MobileNetV2Features):
    """MobileNetV2 on the crop upsampled to ImageNet's 224 px (ImageNet weights load unchanged)."""
