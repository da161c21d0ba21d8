"""A trunk that sees only the fine texture of a face crop: a fixed high-pass filter before MobileNetV2.

Why: across held-out streams the full network's score follows how a face looks (the polished,
graded look of the celebrity face models every training fake wears, and of the real film footage
it then calls fake) more than the swap (MODEL_CARD.md). That look lives mostly in the low
frequencies: lighting, colour grading, skin tone, make-up. A generator's output differs from a
camera's in the high frequencies: missing sensor noise, smoothed skin texture, resampling at the
blend. Feeding the trunk the residual ``x - blur(x)`` takes the low frequencies away before the
network can use them, as the high-frequency streams of Luo et al. (CVPR 2021, "Generalizing Face
Forgery Detection with High-frequency Features") do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.models.mobilenetv2 import MobileNetV2Features, MobileNetV2Local
from training.models.trunk import ImageNetTrunk

# The residual of ImageNet-normalised 128-px face crops has a standard deviation of about 0.12
# (measured on the crop cache); this gain brings it back to the unit scale the ImageNet stem expects.
RESIDUAL_GAIN = 8.0
BLUR_SIGMA = 1.0
BLUR_RADIUS = 2


def gaussian_kernel(sigma: float, radius: int) -> torch.Tensor:
    """A normalised ``(2r+1, 2r+1)`` Gaussian."""
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    line = torch.exp(-(offsets**2) / (2 * sigma**2))
    line = line / line.sum()
    return line[:, None] * line[None, :]


class HighPass(nn.Module):
    """``(N, C, H, W)`` -> ``gain * (x - GaussianBlur(x))``, per channel, with reflected borders.

    The kernel is a non-persistent buffer: fixed by code, so checkpoints and the ImageNet state dict
    need no key for it, and ONNX export carries it as a constant."""

    kernel: torch.Tensor

    def __init__(
        self,
        channels: int = 3,
        sigma: float = BLUR_SIGMA,
        radius: int = BLUR_RADIUS,
        gain: float = RESIDUAL_GAIN,
    ) -> None:
        super().__init__()
        kernel = gaussian_kernel(sigma, radius).expand(channels, 1, 2 * radius + 1, 2 * radius + 1)
        self.register_buffer("kernel", kernel.contiguous(), persistent=False)
        self.radius = radius
        self.gain = gain
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.radius
        blurred = F.conv2d(F.pad(x, (r, r, r, r), mode="reflect"), self.kernel, groups=self.channels)
        return (x - blurred) * self.gain


class HighPassInput(ImageNetTrunk):
    """Mixin: the trunk's blocks see ``HighPass()(x)`` instead of ``x``. Listed before the trunk
    class, so the trunk builds its blocks (and loads ImageNet weights) exactly as without it."""

    def __init__(self) -> None:
        super().__init__()
        self.highpass = HighPass()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.highpass(x))  # type: ignore[no-any-return]


class MobileNetV2HighPass(HighPassInput, MobileNetV2Features):
    """MobileNetV2 on the high-pass residual of the crop (ImageNet weights load unchanged)."""


class MobileNetV2LocalHighPass(HighPassInput, MobileNetV2Local):
    """The 7-block patch trunk (``mnv2l7``) on the high-pass residual."""
