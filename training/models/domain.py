"""Adversarial domain adaptation (DANN, Ganin & Lempitsky 2015) against compression.

FaceForensics++ at c40 scored *below* chance with callshield-v3: heavily compressed fakes looked
more real to it than most real webcam faces, because the level of compression, not the
manipulation, had become evidence. A classifier tries to tell each crop's compression level
(:data:`training.augment.COMPRESSION_LEVELS`) from its feature; the gradient-reversal layer makes
the encoder *maximise* that classifier's loss, so the features stop carrying the level and the
detector has to find the manipulation at every level.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, strength: float) -> torch.Tensor:
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.strength * grad, None


def grad_reverse(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Identity forward; gradient multiplied by ``-strength`` backward."""
    return _GradReverse.apply(x, strength)  # type: ignore[no-any-return]


def dann_strength(progress: float, gamma: float = 10.0) -> float:
    """Ganin's schedule 2/(1+exp(-gamma p)) - 1: zero at the start (features still meaningless), ~1 late."""
    return 2.0 / (1.0 + math.exp(-gamma * min(max(progress, 0.0), 1.0))) - 1.0


class DomainClassifier(nn.Module):
    """Features -> ``n_domains`` logits, behind a gradient-reversal layer."""

    def __init__(self, dim: int, n_domains: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_domains)
        )

    def forward(self, features: torch.Tensor, strength: float) -> torch.Tensor:
        return self.net(grad_reverse(features, strength))  # type: ignore[no-any-return]
