"""Cached clips in memory, grouped the way training samples them.

Why groups and not one big pool: the data is lopsided (1,500 LFW stills, 30 live-swap pairs, a
handful of FF++/DFDC clips). Sampling by group with fixed shares keeps the rare but important
sources (live swaps, pseudo-fakes) in every batch instead of drowning them in stills.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.cache import CachedClip, load_clip
from training.manifest import ManifestRow


@dataclass
class Clip:
    """One video's (or image's) cached crops plus its manifest facts."""

    row: ManifestRow
    data: CachedClip
    domain: str

    @property
    def label(self) -> int:
        return 1 if self.row.label == "fake" else 0

    def mesh_at(self, i: int) -> np.ndarray | None:
        """FaceMesh points of crop ``i`` or None (no landmarks stored or none found)."""
        mesh = self.data.mesh
        if mesh.shape[1] == 0 or np.isnan(mesh[i, 0, 0]):
            return None
        return mesh[i]

    def window(self, start: int, length: int) -> list[np.ndarray]:
        """``length`` consecutive crops from ``start``; a still image repeats its one crop."""
        n = len(self.data)
        return [self.data.crops[min(start + k, n - 1)] for k in range(length)]


def holdout_identity(identity: str, fraction: float, groups: list[list[str]] | None = None) -> bool:
    """Deterministic identity-level hold-out (calibration set), independent of the manifest's split.

    Identities listed together in ``groups`` (e.g. deepfacelive face models driven by the same real
    footage) are held out together, or the held-out set would share footage with training.
    """
    for group in groups or []:
        if identity in group:
            identity = "+".join(sorted(group))
            break
    digest = hashlib.sha1(f"calib|{identity}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < fraction


def load_clips(rows: list[ManifestRow], entries: dict[str, Path], domain: str) -> list[Clip]:
    return [
        Clip(row=row, data=load_clip(entries[row.path]), domain=domain) for row in rows if row.path in entries
    ]


@dataclass
class ClipGroups:
    """Training clips by role."""

    live_fakes: list[Clip]  # real face-swap footage (deepfacelive)
    other_fakes: list[Clip]  # FF++ / DFDC manipulations
    video_reals: list[Clip]  # real videos (any source)
    still_reals: list[Clip]  # real photos (LFW, portraits)
    sbi_sources: list[Clip]  # real clips with landmarks, for self-blended pseudo-fakes
    target: list[Clip]  # call-domain clips, labels withheld (DANN target)

    @staticmethod
    def build(clean: list[Clip], call: list[Clip]) -> ClipGroups:
        video = [c for c in clean if c.row.kind == "video" and len(c.data) > 0]
        stills = [c for c in clean if c.row.kind == "image" and c.label == 0]
        reals = [c for c in video if c.label == 0]
        with_marks = [c for c in clean if c.label == 0 and c.data.mesh.shape[1] > 0]
        return ClipGroups(
            live_fakes=[c for c in video if c.label == 1 and c.row.method == "deepfacelive"],
            other_fakes=[c for c in video if c.label == 1 and c.row.method != "deepfacelive"],
            video_reals=reals,
            still_reals=stills,
            sbi_sources=with_marks,
            target=call,
        )

    def summary(self) -> str:
        parts = [f"{name}={len(getattr(self, name))}" for name in self.__dataclass_fields__]
        return ", ".join(parts)


def pick(rng: np.random.Generator, clips: list[Clip]) -> Clip:
    return clips[int(rng.integers(len(clips)))]
