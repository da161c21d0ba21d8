"""Detection metrics in plain numpy: ROC AUC, average precision, EER, accuracy, FPR at a TPR.

numpy only because ``callshield evaluate`` runs on user installs that have no scikit-learn; the
tests hold these to ``sklearn.metrics`` on random data. Conventions: label 1 = fake (positive),
a higher score = more likely fake. Tied scores are handled as one threshold (no arbitrary order
between equal scores). With a single class present, ranking metrics are undefined: they return
``nan`` and :func:`binary_metrics` says why in ``note`` (never an exception: an evaluation of an
all-real call recording is a legitimate thing to run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class RocCurve:
    """ROC points from the strictest threshold to the loosest (``fpr``/``tpr`` start at 0)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray  # thresholds[i]: predict fake when score >= thresholds[i]; [0] is +inf


def sigmoid(logits: ArrayLike) -> np.ndarray:
    """Probability from logits, elementwise (the detector's logit > 0 means fake)."""
    return 1 / (1 + np.exp(-np.asarray(logits)))  # keeps the input dtype


def _prepare(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length ({y.size} vs {s.size})")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y, s


def has_both_classes(labels: ArrayLike) -> bool:
    y = np.asarray(labels).ravel()
    return bool(y.size) and bool((y == 1).any()) and bool((y == 0).any())


def _cumulative_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True/false positives at each distinct threshold, strictest first."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # last index of each run of equal scores: a threshold takes the whole tie at once
    distinct = np.flatnonzero(np.diff(s_sorted)) if s_sorted.size > 1 else np.empty(0, np.int64)
    ends = np.r_[distinct, y_sorted.size - 1]
    tps = np.cumsum(y_sorted)[ends].astype(np.float64)
    fps = (ends + 1 - tps).astype(np.float64)
    return tps, fps, s_sorted[ends]


def roc_curve(labels: ArrayLike, scores: ArrayLike) -> RocCurve:
    """ROC points at every distinct score (plus the (0, 0) start). ``nan`` rates where a class is
    absent (its rate has no denominator)."""
    y, s = _prepare(labels, scores)
    if y.size == 0:
        empty = np.array([0.0])
        return RocCurve(empty, empty.copy(), np.array([np.inf]))
    tps, fps, thr = _cumulative_counts(y, s)
    tps, fps, thr = np.r_[0.0, tps], np.r_[0.0, fps], np.r_[np.inf, thr]
    n_pos, n_neg = tps[-1], fps[-1]
    tpr = tps / n_pos if n_pos > 0 else np.full_like(tps, np.nan)
    fpr = fps / n_neg if n_neg > 0 else np.full_like(fps, np.nan)
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=thr)


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (ties count half, as the Mann-Whitney U does); nan for one class."""
    y, s = _prepare(labels, scores)
    if not has_both_classes(y):
        return math.nan
    curve = roc_curve(y, s)
    return float(np.sum(np.diff(curve.fpr) * (curve.tpr[1:] + curve.tpr[:-1]) * 0.5))


def average_precision(labels: ArrayLike, scores: ArrayLike) -> float:
    """AP = sum over thresholds of (recall step) x precision, as sklearn defines it (no
    interpolation); nan without positives (fakes), 1.0 when everything is fake."""
    y, s = _prepare(labels, scores)
    if not (y == 1).any():
        return math.nan
    tps, fps, _ = _cumulative_counts(y, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    recall_steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_steps * precision))


def eer(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """Equal error rate and the threshold where it happens: the ROC point where FPR = 1 - TPR,
    interpolated linearly between the two points that straddle it. ``(nan, nan)`` for one class."""
    y, s = _prepare(labels, scores)
    if not has_both_classes(y):
        return math.nan, math.nan
    curve = roc_curve(y, s)
    fnr = 1.0 - curve.tpr
    diff = curve.fpr - fnr  # rises from -1 (strictest) to +1 (loosest)
    i = int(np.argmax(diff >= 0))
    if diff[i] == 0 or i == 0:
        thr = curve.thresholds[i] if np.isfinite(curve.thresholds[i]) else float(s.max())
        return float(curve.fpr[i]), float(thr)
    d0, d1 = diff[i - 1], diff[i]
    w = -d0 / (d1 - d0)  # fraction of the way from point i-1 to point i where diff crosses 0
    rate = (1 - w) * curve.fpr[i - 1] + w * curve.fpr[i]
    t0 = curve.thresholds[i - 1] if np.isfinite(curve.thresholds[i - 1]) else curve.thresholds[i]
    thr = (1 - w) * t0 + w * curve.thresholds[i]
    return float(rate), float(thr)


def accuracy_at(labels: ArrayLike, scores: ArrayLike, threshold: float) -> float:
    """Fraction right when 'fake' means score >= threshold; nan for no samples."""
    y, s = _prepare(labels, scores)
    if y.size == 0:
        return math.nan
    return float(np.mean((s >= threshold).astype(np.int64) == y))


def fpr_at_threshold(labels: ArrayLike, scores: ArrayLike, threshold: float) -> float:
    """Share of real samples called fake (score >= threshold): the false-alarm rate users feel."""
    y, s = _prepare(labels, scores)
    reals = s[y == 0]
    return float(np.mean(reals >= threshold)) if reals.size else math.nan


def fpr_at_tpr(labels: ArrayLike, scores: ArrayLike, tpr_target: float = 0.9) -> float:
    """Lowest FPR among thresholds that catch at least ``tpr_target`` of the fakes (no
    interpolation: a threshold that exists). nan for one class."""
    y, s = _prepare(labels, scores)
    if not has_both_classes(y):
        return math.nan
    curve = roc_curve(y, s)
    ok = curve.tpr >= tpr_target - 1e-12
    return float(curve.fpr[ok].min())


def tpr_at_fpr(labels: ArrayLike, scores: ArrayLike, fpr_target: float) -> float:
    """Highest share of fakes caught by a threshold that flags at most ``fpr_target`` of the reals
    (a threshold that exists: no interpolation). nan for one class.

    With few reals the budget rounds down: 44 reals at 5% allow 2 false alarms, at 1% none."""
    y, s = _prepare(labels, scores)
    if not has_both_classes(y):
        return math.nan
    curve = roc_curve(y, s)
    ok = curve.fpr <= fpr_target + 1e-12
    return float(curve.tpr[ok].max())


@dataclass(frozen=True)
class BinaryMetrics:
    """The headline numbers for one set of (label, score) pairs."""

    n: int
    n_real: int
    n_fake: int
    auc: float
    ap: float
    eer: float
    eer_threshold: float
    accuracy: float
    threshold: float
    fpr_at_tpr90: float
    fpr_real_at_threshold: float
    note: str = ""  # why ranking metrics are nan, when they are

    @property
    def defined(self) -> bool:
        return not self.note


def binary_metrics(labels: ArrayLike, scores: ArrayLike, threshold: float = 0.5) -> BinaryMetrics:
    """All metrics at once; never raises for one class or no samples (nan + ``note``)."""
    y, s = _prepare(labels, scores)
    n_fake = int((y == 1).sum())
    n_real = int((y == 0).sum())
    note = ""
    if y.size == 0:
        note = "no samples"
    elif n_fake == 0:
        note = "only real samples: AUC/AP/EER undefined"
    elif n_real == 0:
        note = "only fake samples: AUC/EER undefined"
    rate, eer_thr = eer(y, s)
    return BinaryMetrics(
        n=int(y.size),
        n_real=n_real,
        n_fake=n_fake,
        auc=roc_auc(y, s),
        ap=average_precision(y, s),
        eer=rate,
        eer_threshold=eer_thr,
        accuracy=accuracy_at(y, s, threshold),
        threshold=float(threshold),
        fpr_at_tpr90=fpr_at_tpr(y, s, 0.9),
        fpr_real_at_threshold=fpr_at_threshold(y, s, threshold),
        note=note,
    )
