"""Calibration: the temperature fits, and the fake threshold holds for every kind of real."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import fit_temperature, thresholds_for
from training.metrics import sigmoid


def test_temperature_recovers_an_overconfident_scale() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 20_000)
    labels = (rng.random(20_000) < sigmoid(true_logits)).astype(np.float64)
    assert fit_temperature(true_logits * 4.0, labels) == pytest.approx(4.0, rel=0.1)


def test_the_fake_threshold_holds_each_kind_of_real_to_the_target() -> None:
    videos = np.linspace(0.1, 0.7, 100)  # a few real videos score high
    photos = np.linspace(0.0, 0.3, 1000)  # many photos, all low: they must not hide the videos
    th = thresholds_for({"video": videos, "image": photos}, target_fpr=0.03)
    assert np.mean(videos >= th.fake) <= 0.03 and np.mean(photos >= th.fake) <= 0.03
    pooled = thresholds_for({"all": np.concatenate([videos, photos])}, target_fpr=0.03)
    assert pooled.fake < th.fake  # pooled, the photos would drag the threshold down
    assert np.mean(videos >= pooled.fake) > 0.03
    assert th.real < th.suspicious < th.fake and th.fake - th.real == pytest.approx(0.25)


def test_no_reals_falls_back_to_even_odds() -> None:
    assert thresholds_for({"video": np.zeros(0)}, 0.03).fake == pytest.approx(0.52)
