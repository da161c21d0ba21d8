"""Data-parallel training under torchrun: one module per stage whose forward DDP runs.

DistributedDataParallel all-reduces gradients only for the parameters its own ``forward`` used. A
stage that calls ``ddp.module.encode`` (or a classifier held outside the wrapper) bypasses it: every
rank then steps on its own gradients and the replicas drift apart while looking parallel. So the
encoder stage puts everything it trains (encoder, frame classifier, compression adversary) into
one module and calls that module through the wrapper; the head stage wraps the window head.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from training.models import Detector
from training.models.domain import DomainClassifier


class EncoderOutputs(NamedTuple):
    """What one encoder-stage batch produces; ``domain_logits`` is None without the adversary."""

    features: torch.Tensor  # (N, D)
    frame_logit: torch.Tensor  # (N,)
    domain_logits: torch.Tensor | None  # (N, n_domains)


class EncoderObjective(nn.Module):
    """The encoder stage's forward: features, frame logits and the adversary's logits."""

    def __init__(self, model: Detector, domain: DomainClassifier | None) -> None:
        super().__init__()
        self.model = model
        self.domain = domain

    def forward(self, crops: torch.Tensor, domain_strength: float) -> EncoderOutputs:
        features = self.model.encode(crops)
        frame_logit = self.model.frame_classifier(features).squeeze(1)
        domain_logits = self.domain(features, domain_strength) if self.domain is not None else None
        return EncoderOutputs(features, frame_logit, domain_logits)


def data_parallel(module: nn.Module, world: int) -> nn.Module:
    """``module`` itself in a single process; under torchrun, wrapped so its forward all-reduces.

    Built after the stage has frozen what it keeps fixed: DDP syncs the parameters that require a
    gradient when it is made, and broadcasts rank 0's weights so every replica starts equal.
    ``find_unused_parameters`` because a recipe may leave some of them out of a step (a learned
    head during the encoder stage)."""
    if world <= 1:
        return module
    return nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)
