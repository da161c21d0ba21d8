"""Temporal heads: score a track from its last T per-frame features.

The runtime encodes each new crop once and keeps features per track, so the temporal head sees
features, never pixels: cheap enough to run on every face every frame. Live face swappers work
frame by frame, so their output flickers (identity, colour and blend boundary wobble between
frames); the head therefore looks at the frame-to-frame differences and spread of the features, not
only at their mean.
"""

from __future__ import annotations

import torch
from torch import nn


class TemporalConvHead(nn.Module):
    """``(B, T, D)`` -> ``(B,)`` logit from a 1-D conv over time plus mean/spread/motion statistics."""

    def __init__(self, dim: int, hidden: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Sequential(
            nn.Conv1d(dim, hidden, kernel_size=3, padding=1),
            nn.GELU(),
            nn.Conv1d(hidden, hidden, kernel_size=3, padding=1),
            nn.GELU(),
        )
        self.mlp = nn.Sequential(
            nn.Linear(hidden + 3 * dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        x = self.norm(window)
        conv = self.conv(x.transpose(1, 2)).mean(dim=2)
        mean = x.mean(dim=1)
        spread = (x - mean.unsqueeze(1)).pow(2).mean(dim=1).add(1e-6).sqrt()
        motion = (x[:, 1:] - x[:, :-1]).abs().mean(dim=1)
        return self.mlp(torch.cat([conv, mean, spread, motion], dim=1)).squeeze(1)


class FrameLogitPoolHead(nn.Module):
    """Average the frame classifier's logits over the window: ``(B, T, D)`` -> ``(B,)``.

    Why a head without parameters of its own: on identities held out from training, every learned
    temporal head scored below the plain mean of per-frame probabilities (MODEL_CARD.md). The
    features already separate the training clips, so a head trained on them learns those clips.
    Pooling the logits of the frame classifier that stage 1 trained keeps the window's evidence
    (a swap that shows in some frames and not others still moves the mean) without that fit.
    """

    def __init__(self, classifier: nn.Linear) -> None:
        super().__init__()
        self.classifier = classifier  # shared with Detector.frame_classifier, not a copy

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        return self.classifier(window).squeeze(-1).mean(dim=1)
