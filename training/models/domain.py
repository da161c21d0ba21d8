"""Adversarial domain adaptation (DANN, Ganin & Lempitsky 2015).

A domain classifier tries to tell source features (labelled clips) from target features
(video-call-condition clips, labels withheld); the gradient-reversal layer makes the encoder
*maximise* its loss, so the encoder learns features that do not reveal the domain, and a detector
trained on clean labelled footage keeps working after a call's codec has been at the frames.
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
    """Features -> domain logit (target = 1), behind a gradient-reversal layer."""

    def __init__(self, dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor, strength: float) -> torch.Tensor:
        return self.net(grad_reverse(features, strength)).squeeze(-1)


class IdentityAdversary(nn.Module):
    """Features of fakes -> which face model made them, behind a gradient-reversal layer.

    Every live-swap fake in training wears one of a dozen celebrity face models, and every real
    twin shows someone else, so "is this one of those faces" separates the training set without
    learning the swap (the identity leakage of Dong et al., CVPR 2023). Reversing this classifier's
    gradient pushes the encoder to carry no face-model identity among fakes."""

    def __init__(self, dim: int, n_identities: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_identities)
        )

    def forward(self, features: torch.Tensor, strength: float) -> torch.Tensor:
        return self.net(grad_reverse(features, strength))  # type: ignore[no-any-return]
