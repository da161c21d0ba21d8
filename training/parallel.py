"""Data-parallel training under torchrun: one module per stage whose forward DDP runs.

DistributedDataParallel all-reduces gradients only for the parameters its own ``forward`` used. A
stage that calls ``ddp.module.encode`` (or a classifier held outside the wrapper) bypasses it: every
rank then steps on its own gradients and the replicas drift apart while looking parallel. So each
stage puts everything it trains (encoder, frame classifier, domain classifier, identity adversary)
into one module and calls that module through the wrapper; the head stage wraps the window head.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from training.models import Detector
from training.models.domain import DomainClassifier, IdentityAdversary


class EncoderOutputs(NamedTuple):
    """What one encoder-stage batch produces; the adversarial logits are None when unused."""

    features: torch.Tensor  # (N_labelled + N_target, D)
    frame_logit: torch.Tensor  # (N_labelled,)
    domain_logit: torch.Tensor | None  # (N_labelled + N_target,)
    identity_logits: torch.Tensor | None  # (len(identity_rows), n_identities)
    cell_logits: torch.Tensor | None  # (N_labelled, h, w) frame logits per trunk cell, when asked


class EncoderObjective(nn.Module):
    """The encoder stage's forward: features, frame logits and the adversaries' logits."""

    def __init__(
        self, model: Detector, domain: DomainClassifier, adversary: IdentityAdversary | None
    ) -> None:
        super().__init__()
        self.model = model
        self.domain = domain
        self.adversary = adversary

    def forward(
        self,
        crops: torch.Tensor,
        n_labelled: int,
        domain_strength: float | None,
        identity_rows: list[int],
        identity_strength: float,
        with_cells: bool = False,
    ) -> EncoderOutputs:
        """``crops`` holds the labelled crops first, then any unlabelled target-domain crops.

        ``domain_strength`` None skips the domain classifier; an empty ``identity_rows`` (or no
        adversary) skips the identity adversary; ``with_cells`` adds the per-cell frame logits."""
        cell_logits = None
        if with_cells:
            features, cells = self.model.encode_cells(crops)
            cell_logits = cells[:n_labelled]
        else:
            features = self.model.encode(crops)
        frame_logit = self.model.frame_classifier(features[:n_labelled]).squeeze(1)
        domain_logit = self.domain(features, domain_strength) if domain_strength is not None else None
        identity_logits = (
            self.adversary(features[identity_rows], identity_strength)
            if self.adversary is not None and identity_rows
            else None
        )
        return EncoderOutputs(features, frame_logit, domain_logit, identity_logits, cell_logits)


def data_parallel(module: nn.Module, world: int) -> nn.Module:
    """``module`` itself in a single process; under torchrun, wrapped so its forward all-reduces.

    Built after the stage has frozen what it keeps fixed: DDP syncs the parameters that require a
    gradient when it is made, and broadcasts rank 0's weights so every replica starts equal.
    ``find_unused_parameters`` because a recipe may leave some of them out of a batch (the domain
    classifier without target crops, a learned head during the encoder stage)."""
    if world <= 1:
        return module
    return nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)
