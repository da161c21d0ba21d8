"""Detector registry and factory (``create_detector(name, **cfg)``, as in timm).

Every detector follows one contract (DeepfakeBench's, adapted to streaming):
``forward(clip (B, T, 3, S, S)) -> {"logit": (B,), "prob": (B,), "feat": (B, T, D),
"frame_logit": (B, T)}``. ``feat`` is where the gradient-reversal domain head attaches. The two
halves the runtime needs separately, ``encode`` (crops -> features) and ``head`` (window ->
logit), are what gets exported to ONNX.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.models.mobilenetv2 import IMAGENET_MEAN, IMAGENET_STD, MobileNetV2Features
from training.models.temporal import FrameLogitPoolHead, TemporalConvHead
from training.models.trunk import ImageNetTrunk


class Detector(nn.Module):
    """Per-frame encoder (trunk -> pooled -> projected D-dim feature) plus a temporal head."""

    def __init__(
        self, trunk: nn.Module, trunk_channels: int, head: nn.Module | None, feature_dim: int
    ) -> None:
        """``head=None`` pools the frame classifier's logits over the window (FrameLogitPoolHead)."""
        super().__init__()
        self.trunk = trunk
        self.project = nn.Sequential(nn.Dropout(0.2), nn.Linear(trunk_channels, feature_dim))
        self.frame_classifier = nn.Linear(feature_dim, 1)
        self.head = head if head is not None else FrameLogitPoolHead(self.frame_classifier)
        self.feature_dim = feature_dim
        # pixel normalisation the trunk's ImageNet weights expect; it travels into the artifact
        self.input_mean: tuple[float, float, float] = getattr(trunk, "input_mean", IMAGENET_MEAN)
        self.input_std: tuple[float, float, float] = getattr(trunk, "input_std", IMAGENET_STD)

    def encode(self, crops: torch.Tensor) -> torch.Tensor:
        """``(N, 3, S, S)`` normalised crops -> ``(N, D)`` features."""
        pooled = self.trunk(crops).mean(dim=(2, 3))
        return self.project(pooled)

    def score_window(self, window: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` features -> ``(B,)`` logits."""
        return self.head(window)

    def forward(self, clip: torch.Tensor) -> dict[str, torch.Tensor]:
        b, t = clip.shape[:2]
        feat = self.encode(clip.flatten(0, 1)).view(b, t, -1)
        logit = self.score_window(feat)
        return {
            "logit": logit,
            "prob": torch.sigmoid(logit),
            "feat": feat,
            "frame_logit": self.frame_classifier(feat).squeeze(-1),
        }

    def encoder_modules(self) -> list[nn.Module]:
        return [self.trunk, self.project, self.frame_classifier]


def _detector(
    trunk_cls: type[ImageNetTrunk],
    head_cls: Callable[..., nn.Module] | None,
) -> Callable[..., Detector]:
    def build(feature_dim: int = 128, imagenet: str | Path | None = None, **head_cfg: Any) -> Detector:
        trunk = trunk_cls()
        if imagenet:
            trunk.load_imagenet(imagenet)
        head = head_cls(feature_dim, **head_cfg) if head_cls is not None else None
        return Detector(trunk, trunk.out_channels, head, feature_dim)

    return build


DETECTORS: dict[str, Callable[..., Detector]] = {
    "mnv2_pool": _detector(MobileNetV2Features, None),  # window score = mean of the frame logits
    "mnv2_tconv": _detector(MobileNetV2Features, TemporalConvHead),  # learned head over the window
}


def create_detector(name: str, **cfg: Any) -> Detector:
    """Build a registered detector; unknown names list the known ones."""
    if name not in DETECTORS:
        raise KeyError(f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}")
    return DETECTORS[name](**cfg)
