"""Calibration: a temperature so that p_fake means what it says, and thresholds from held-out reals.

Both are fitted on train identities held out from training (never on val): the network is
overconfident on faces it was trained on, and a threshold set on those would call far more real
callers fake than it promises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from engines.artifact import Thresholds
from training.clips import Clip
from training.metrics import sigmoid


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """1-D search for the temperature minimising the negative log-likelihood."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(math.log(0.25), math.log(64.0), 120)):
        p = sigmoid(logits / t)
        nll = -np.mean(labels * np.log(p + 1e-7) + (1 - labels) * np.log(1 - p + 1e-7))
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def thresholds_for(real_scores: dict[str, np.ndarray], target_fpr: float) -> Thresholds:
    """The fake threshold calls at most ``target_fpr`` of the held-out reals of *each* kind fake
    (videos and photos are held to it separately, so the many photos cannot hide a video's false
    alarm); the real threshold sits 0.25 below it, the suspicious level halfway, so the gauge's
    hysteresis has room."""
    levels = [float(np.quantile(s, 1 - target_fpr)) for s in real_scores.values() if len(s)]
    q = max(levels) if levels else 0.5
    fake_thr = float(np.clip(q + 0.02, 0.5, 0.9))
    real_thr = float(max(0.05, fake_thr - 0.25))
    return Thresholds(real=real_thr, suspicious=(real_thr + fake_thr) / 2, fake=fake_thr)


def calibrate(
    window_logits_of: Callable[[Clip], np.ndarray], calib: list[Clip], target_fpr: float
) -> tuple[float, Thresholds, dict[str, Any]]:
    """Temperature from every window logit of ``calib``, thresholds from its per-clip scores (mean
    calibrated p_fake over a clip's windows, as ``callshield scan`` scores a video; a photo is one
    window of the same crop)."""
    per_clip = [(window_logits_of(clip), clip) for clip in calib if len(clip.data) >= 1]
    if not per_clip:
        return 1.0, Thresholds(), {"n_calib_videos": 0}
    logits = np.concatenate([wl for wl, _ in per_clip])
    labels = np.concatenate([np.full(len(wl), clip.label, np.float64) for wl, clip in per_clip])
    temp = fit_temperature(logits, labels)
    scores = [(float(np.mean(sigmoid(wl / temp))), clip) for wl, clip in per_clip]
    reals = {
        kind: np.array([s for s, clip in scores if clip.label == 0 and clip.row.kind == kind])
        for kind in ("video", "image")
    }
    fake_scores = np.array([s for s, clip in scores if clip.label == 1])
    report = {
        "n_calib_videos": sum(clip.row.kind == "video" for _, clip in scores),
        "n_calib_stills": sum(clip.row.kind == "image" for _, clip in scores),
        "temperature": temp,
        "calib_real_scores": sorted(np.round(reals["video"], 4).tolist()),
        "calib_still_scores": sorted(np.round(reals["image"], 4).tolist()),
        "calib_fake_scores": sorted(np.round(fake_scores, 4).tolist()),
    }
    return temp, thresholds_for(reals, target_fpr), report
