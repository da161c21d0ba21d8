"""Per-track ring buffers of encoder features: each crop is encoded once, windows are views of the past.

The detector is split into a per-frame encoder and a temporal head (DESIGN.md, "Model artifact").
Keeping the last T features of each track means a new frame costs one encoder pass per face, and
the head reads a window that is already there: no re-encoding of T crops per frame, as clip models
(I3D and friends) must do.

The head may run on a track every ``head_every`` new features once its window is full (the
session pushes every ``ModelMeta.stride``-th frame of a track and scores every push). Each slot also
remembers whether its frame passed the quality checks, so a window mostly made of poor frames can
be recognised (``good_fraction``) and its score not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class _Ring:
    features: np.ndarray  # (T, D)
    good: np.ndarray  # (T,) bool
    count: int = 0  # features pushed since the track started
    since_scored: int = 0  # features pushed since the head last ran


class FeatureWindows:
    """Ring buffers of ``(window, feature_dim)`` features keyed by track id."""

    def __init__(self, window: int, feature_dim: int, head_every: int = 1) -> None:
        if window < 1 or feature_dim < 1 or head_every < 1:
            raise ValueError(
                f"window, feature_dim and head_every must be >= 1, got {window}, {feature_dim}, {head_every}"
            )
        self.window = window
        self.feature_dim = feature_dim
        self.head_every = head_every
        self._rings: dict[int, _Ring] = {}

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._rings

    def __len__(self) -> int:
        return len(self._rings)

    def track_ids(self) -> list[int]:
        return list(self._rings)

    def push(self, track_id: int, feature: np.ndarray, good: bool = True) -> bool:
        """Append one feature; True when this track's window is full and due for the head."""
        feature = np.asarray(feature, dtype=np.float32).reshape(-1)
        if feature.shape[0] != self.feature_dim:
            raise ValueError(
                f"feature has {feature.shape[0]} values, the model's windows hold {self.feature_dim}"
            )
        ring = self._rings.get(track_id)
        if ring is None:
            ring = _Ring(
                features=np.zeros((self.window, self.feature_dim), np.float32),
                good=np.zeros(self.window, bool),
            )
            self._rings[track_id] = ring
        slot = ring.count % self.window
        ring.features[slot] = feature
        ring.good[slot] = good
        ring.count += 1
        ring.since_scored += 1
        if ring.count >= self.window and ring.since_scored >= self.head_every:
            ring.since_scored = 0
            return True
        return False

    def count(self, track_id: int) -> int:
        """Features pushed for this track so far (0 for an unknown track)."""
        ring = self._rings.get(track_id)
        return ring.count if ring else 0

    def is_full(self, track_id: int) -> bool:
        return self.count(track_id) >= self.window

    def get(self, track_id: int) -> np.ndarray:
        """The track's last ``window`` features, oldest first, ``(T, D)`` float32 (a copy)."""
        ring = self._rings[track_id]
        if ring.count < self.window:
            raise ValueError(f"track {track_id} has {ring.count} of {self.window} features")
        start = ring.count % self.window
        return np.concatenate([ring.features[start:], ring.features[:start]])

    def good_fraction(self, track_id: int) -> float:
        """Share of the current window's frames that passed the quality checks."""
        ring = self._rings[track_id]
        filled = min(ring.count, self.window)
        return float(ring.good[:filled].mean()) if filled else 0.0

    def drop(self, track_id: int) -> None:
        """Forget a track (it ended): its features must never leak into a later face's window."""
        self._rings.pop(track_id, None)

    def retain(self, track_ids: set[int] | list[int]) -> list[int]:
        """Drop every track not in ``track_ids``; returns the ids dropped."""
        keep = set(track_ids)
        gone = [tid for tid in self._rings if tid not in keep]
        for tid in gone:
            del self._rings[tid]
        return gone

    def clear(self) -> None:
        self._rings.clear()
