"""Cached clips in memory, grouped the way training samples them.

Why groups and not one big pool: the data is lopsided (1,900 LFW stills, 70 FF++ fakes, six
lip-sync edits). Sampling fakes family by family keeps every kind of fake in every batch instead
of drowning the rare ones, and reals grouped by the footage they come from let a batch pair a fake
with reals of its own source (training.sampling).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.cache import CachedClip, load_clip
from training.config import DataConfig
from training.families import deal_methods, family_of, method_of
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
    digest = hashlib.sha1(f"calib|{identity_key(identity, groups)}".encode()).hexdigest()
    return int(digest[:8], 16) / 0xFFFFFFFF < fraction


def identity_key(identity: str, groups: list[list[str]] | None = None) -> str:
    """The unit of hold-out: an identity, or its whole group when it shares footage with others."""
    for group in groups or []:
        if identity in group:
            return "+".join(sorted(group))
    return identity


def heldout_identities(rows: list[ManifestRow], data: DataConfig) -> set[str]:
    """Identities of ``rows`` held out from fitting (for calibration and for model selection).

    With ``data.calib_folds`` = K > 1, the identity groups of each source are dealt into K folds of
    about equal numbers of videos and fold ``data.calib_fold`` is held out, so that every fold
    holds about 1/K of each source (notably of the few live-swap pairs) and K runs together
    hold every identity out once: cross-validation on the train split, never on val. Otherwise
    the ``calib_fraction`` draw of :func:`holdout_identity`. Folds hold out video identities only:
    stills are not scored as clips, so holding them out would only shrink training.
    """
    if data.calib_folds <= 1:
        return {
            r.identity
            for r in rows
            if holdout_identity(r.identity, data.calib_fraction, data.identity_groups)
        }
    videos_by_source: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.kind != "video":  # stills are never scored on their own: they stay in training
            continue
        counts = videos_by_source.setdefault(r.source, {})
        key = identity_key(r.identity, data.identity_groups)
        counts[key] = counts.get(key, 0) + 1
    chosen: set[str] = set()
    for counts in videos_by_source.values():
        # biggest groups first, each to the fold with the fewest videos so far
        order = sorted(counts, key=lambda k: (-counts[k], hashlib.sha1(f"fold|{k}".encode()).hexdigest()))
        load = [0] * data.calib_folds
        for key in order:
            fold = load.index(min(load))
            load[fold] += counts[key]
            if fold == data.calib_fold:
                chosen.add(key)
    return {r.identity for r in rows if identity_key(r.identity, data.identity_groups) in chosen}


def footage_of(
    rows: list[ManifestRow], fakes: list[ManifestRow], groups: list[list[str]] | None = None
) -> set[str]:
    """Identity units (:func:`identity_key`) of ``fakes`` and of every row sharing a ``pair_id``
    with one: the people and footage those fakes were made of.

    Leaving fakes out must leave their footage out too: a live swap's real twin, a lip-sync edit's
    source clip, an animation's driving video. Trained on as reals, they would teach the model that
    exactly this stream is real, and the held-out fakes, made of it, would score as real for that
    reason alone (measured: below chance on every family before this rule)."""
    pairs = {r.pair_id for r in fakes if r.pair_id}
    linked = [r for r in rows if r.pair_id and r.pair_id in pairs]
    return {identity_key(r.identity, groups) for r in fakes + linked}


def family_footage(rows: list[ManifestRow], family: str, groups: list[list[str]] | None = None) -> set[str]:
    """The footage (:func:`footage_of`) of ``family``'s fakes."""
    return footage_of(rows, [r for r in rows if family_of(r) == family], groups)


def method_units(rows: list[ManifestRow], groups: list[list[str]] | None = None) -> dict[str, str]:
    """Fake row path -> its method unit (:func:`training.families.method_of`)."""
    units = {}
    for r in rows:
        unit = method_of(r, identity_key(r.identity, groups))
        if unit is not None:
            units[r.path] = unit
    return units


def method_fold_of(
    rows: list[ManifestRow], folds: int, groups: list[list[str]] | None = None
) -> dict[str, int]:
    """Method unit -> fold of the leave-one-method-out benchmark, dealt over ``rows``' fakes
    (:func:`training.families.deal_methods`)."""
    counts: dict[str, int] = {}
    for unit in method_units(rows, groups).values():
        counts[unit] = counts.get(unit, 0) + 1
    return deal_methods(counts, folds)


def heldout_fakes(rows: list[ManifestRow], data: DataConfig) -> list[ManifestRow]:
    """The fakes a benchmark fold leaves out of training: ``data.holdout_family``'s, or those of the
    method units dealt to fold ``data.holdout_method_fold`` (none when neither is set)."""
    if data.holdout_family:
        return [r for r in rows if family_of(r) == data.holdout_family]
    if data.holdout_method_fold >= 0:
        units = method_units(rows, data.identity_groups)
        fold_of = method_fold_of(rows, data.method_folds, data.identity_groups)
        return [r for r in rows if r.path in units and fold_of[units[r.path]] == data.holdout_method_fold]
    return []


def load_clips(rows: list[ManifestRow], entries: dict[str, Path], domain: str) -> list[Clip]:
    return [
        Clip(row=row, data=load_clip(entries[row.path]), domain=domain) for row in rows if row.path in entries
    ]


def source_group(row: ManifestRow) -> str:
    """The footage a row comes from: a dataset, or one repository's demo media in ``swaps/`` and
    ``talking/``. Reals and fakes of one source share its camera, grading and encoding."""
    folder = row.path.replace("\\", "/").split("/")[0]
    return f"{folder}/{row.source}" if folder in ("swaps", "talking") else row.source


@dataclass
class ClipGroups:
    """Training clips by role (clean domain)."""

    fakes: dict[str, list[Clip]]  # family (training.families) -> its fake videos
    video_reals: list[Clip]  # real videos (any source)
    still_reals: list[Clip]  # real photos (LFW, portraits)
    sbi_sources: list[Clip]  # real clips with landmarks, for self-blended pseudo-fakes
    reals_by_source: dict[str, list[Clip]] = field(default_factory=dict)  # source_group -> real videos

    @staticmethod
    def build(clean: list[Clip]) -> ClipGroups:
        video = [c for c in clean if c.row.kind == "video" and len(c.data) > 0]
        fakes: dict[str, list[Clip]] = {}
        for clip in video:
            family = family_of(clip.row)
            if family is not None:
                fakes.setdefault(family, []).append(clip)
        reals = [c for c in video if c.label == 0]
        by_source: dict[str, list[Clip]] = {}
        for clip in reals:
            by_source.setdefault(source_group(clip.row), []).append(clip)
        return ClipGroups(
            fakes=fakes,
            video_reals=reals,
            still_reals=[c for c in clean if c.row.kind == "image" and c.label == 0],
            sbi_sources=[c for c in clean if c.label == 0 and c.data.mesh.shape[1] > 0],
            reals_by_source=by_source,
        )

    def summary(self) -> str:
        families = ", ".join(f"{name} {len(clips)}" for name, clips in sorted(self.fakes.items()))
        return (
            f"fakes ({families}), real videos {len(self.video_reals)}, real stills {len(self.still_reals)}, "
            f"self-blend sources {len(self.sbi_sources)}"
        )


def pick(rng: np.random.Generator, clips: list[Clip]) -> Clip:
    return clips[int(rng.integers(len(clips)))]
