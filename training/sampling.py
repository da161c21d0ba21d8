"""Encoder batches: which crops one training step sees, and how each one is altered.

Half of a batch is fakes and half reals. Fakes come family by family (:mod:`training.families`),
each present family equally often, so six lip-sync edits weigh as much as seventy FF++ clips: the
model is asked to catch every kind of fake, not the commonest. A share of the fakes
(``sbi_fraction``) are self-blends of real crops (:mod:`training.sbi`): pseudo-fakes made from
every real source, carrying only the traces that all swaps share.

Why pair reals with the fake's own footage (``source_pairing``): each source's reals and fakes
share a camera, grading and encoding, and most sources lean to one label (LFW and webcams are all
real, FF++ is two thirds fake). A model shown random reals can learn "which dataset does this look
like". Drawing the real from the fake's source where that source has reals makes the look useless
and leaves the manipulation as the only cue (with self-blends, +0.36 AUC on unseen face swaps and
+0.22 on the academic sets in the leave-one-family-out table, MODEL_CARD.md).

Every crop then gets the per-crop call degradations (``augment``), a compression level
(``compress``: none, c23- or c40-like, the same draw for reals and fakes, so the level says nothing
about the label) and a mirror flip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.augment import COMPRESSION_LEVELS, augment_crop, compress_crop
from training.clips import Clip, ClipGroups, pick, source_group
from training.config import EncoderStage
from training.sbi import sample_params, self_blend

STILL_SHARE = 0.25  # share of the unpaired reals that are photos (LFW), the rest video frames


@dataclass
class EncoderBatch:
    """Crops as the network sees them, their labels (1 = fake) and compression levels."""

    crops: list[np.ndarray]
    labels: list[int]
    levels: list[int]


def draw_fake(rng: np.random.Generator, groups: ClipGroups, sbi_fraction: float) -> tuple[np.ndarray, Clip]:
    """One fake crop and the clip it comes from (for a self-blend, the real clip it was made of)."""
    if groups.sbi_sources and (rng.random() < sbi_fraction or not groups.fakes):
        clip = pick(rng, groups.sbi_sources)
        i = int(rng.integers(len(clip.data)))
        fake, _ = self_blend(
            clip.data.crops[i], clip.mesh_at(i), sample_params(rng, clip.data.crops.shape[1])
        )
        return fake, clip
    families = sorted(groups.fakes)
    clip = pick(rng, groups.fakes[families[int(rng.integers(len(families)))]])
    return clip.data.crops[int(rng.integers(len(clip.data)))], clip


def draw_real(rng: np.random.Generator, groups: ClipGroups, paired_with: Clip | None) -> np.ndarray:
    """One real crop: from ``paired_with``'s own source when it has reals, else any real."""
    same_source = groups.reals_by_source.get(source_group(paired_with.row), []) if paired_with else []
    if same_source:
        clip = pick(rng, same_source)
    elif groups.still_reals and (rng.random() < STILL_SHARE or not groups.video_reals):
        clip = pick(rng, groups.still_reals)
    else:
        clip = pick(rng, groups.video_reals)
    return clip.data.crops[int(rng.integers(len(clip.data)))]


def sample_encoder_batch(rng: np.random.Generator, groups: ClipGroups, st: EncoderStage) -> EncoderBatch:
    """``st.batch`` crops, alternating fake and real, each altered as the module docstring says."""
    raw: list[tuple[np.ndarray, int]] = []
    for _ in range(st.batch // 2):
        fake, origin = draw_fake(rng, groups, st.sbi_fraction)
        raw.append((fake, 1))
        paired = origin if rng.random() < st.source_pairing else None
        raw.append((draw_real(rng, groups, paired), 0))
    if st.batch % 2:
        raw.append((draw_real(rng, groups, None), 0))
    batch = EncoderBatch([], [], [])
    for crop, label in raw:
        altered = augment_crop(crop, rng, st.augment) if st.augment > 0 else crop
        level = int(rng.integers(1, COMPRESSION_LEVELS)) if rng.random() < st.compress else 0
        altered = compress_crop(altered, level, rng)
        if rng.random() < 0.5:
            altered = altered[:, ::-1]
        batch.crops.append(np.ascontiguousarray(altered))
        batch.labels.append(label)
        batch.levels.append(level)
    return batch
