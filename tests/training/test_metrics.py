"""training.metrics against scikit-learn on random data, plus tiny cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from training.metrics import (
    accuracy_at,
    average_precision,
    binary_metrics,
    eer,
    fpr_at_threshold,
    fpr_at_tpr,
    roc_auc,
    roc_curve,
)


def _random_case(seed: int, n: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = (0, 1)
    s = rng.normal(size=n) + 0.8 * y
    if ties:
        s = np.round(s, 1)  # many equal scores
    return y, s


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_auc_ap_roc_match_sklearn(seed: int, ties: bool) -> None:
    y, s = _random_case(seed, 300, ties)
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thr = skm.roc_curve(y, s, drop_intermediate=False)
    curve = roc_curve(y, s)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)
    np.testing.assert_allclose(curve.thresholds[1:], thr[1:])


@pytest.mark.parametrize("seed", range(4))
def test_eer_and_fpr_at_tpr_match_sklearn_roc(seed: int) -> None:
    y, s = _random_case(seed, 500, ties=False)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    rate, thr = eer(y, s)
    # the EER lies between the two ROC points where FPR and FNR cross
    fnr = 1 - tpr
    i = int(np.argmax(fpr >= fnr))
    assert min(fpr[i - 1], fnr[i]) - 1e-9 <= rate <= max(fpr[i], fnr[i - 1]) + 1e-9
    # at the threshold found, the two error rates are close to each other and to the EER
    far = np.mean(s[y == 0] >= thr)
    frr = np.mean(s[y == 1] < thr)
    assert abs(far - rate) < 0.02 and abs(frr - rate) < 0.02
    assert fpr_at_tpr(y, s, 0.9) == pytest.approx(fpr[tpr >= 0.9].min())
    assert accuracy_at(y, s, 0.3) == pytest.approx(skm.accuracy_score(y, s >= 0.3))


def test_hand_computed_tiny_case() -> None:
    # reals 0.1 0.4, fakes 0.35 0.8: of the 4 (fake, real) pairs 3 are ordered right -> AUC 0.75
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    assert roc_auc(y, s) == pytest.approx(0.75)
    # ranking: 0.8 F (P=1, R=.5), 0.4 R, 0.35 F (P=2/3, R=1) -> AP = .5*1 + .5*2/3
    assert average_precision(y, s) == pytest.approx(0.5 + 1 / 3)
    assert accuracy_at(y, s, 0.5) == pytest.approx(0.75)  # 0.35 fake missed
    assert fpr_at_threshold(y, s, 0.3) == pytest.approx(0.5)
    assert fpr_at_tpr(y, s, 0.9) == pytest.approx(0.5)  # need both fakes: threshold 0.35 passes 0.4
    rate, _ = eer(y, s)
    assert rate == pytest.approx(0.5)


def test_ties_count_half() -> None:
    # one real and one fake with the same score: a coin flip, AUC 0.5
    assert roc_auc([0, 1], [0.7, 0.7]) == pytest.approx(0.5)
    assert roc_auc([0, 0, 1, 1], [0.2, 0.5, 0.5, 0.9]) == pytest.approx(0.875)


def test_perfect_and_inverted() -> None:
    assert roc_auc([0, 0, 1], [0.1, 0.2, 0.9]) == 1.0
    assert roc_auc([0, 0, 1], [0.9, 0.8, 0.1]) == 0.0
    assert eer([0, 0, 1], [0.1, 0.2, 0.9])[0] == 0.0
    assert average_precision([0, 0, 1], [0.1, 0.2, 0.9]) == 1.0


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1, 1]])
def test_single_class_is_nan_with_a_note(labels: list[int]) -> None:
    scores = [0.2, 0.6, 0.9]
    assert math.isnan(roc_auc(labels, scores))
    assert math.isnan(eer(labels, scores)[0])
    assert math.isnan(fpr_at_tpr(labels, scores))
    m = binary_metrics(labels, scores, threshold=0.5)
    assert not m.defined and "only" in m.note
    assert m.accuracy == pytest.approx(2 / 3 if labels[0] == 1 else 1 / 3)
    if labels[0] == 0:
        assert m.fpr_real_at_threshold == pytest.approx(2 / 3)
        assert math.isnan(m.ap)
    else:
        assert m.ap == 1.0


def test_empty_input_does_not_crash() -> None:
    m = binary_metrics([], [], threshold=0.5)
    assert m.n == 0 and m.note == "no samples" and math.isnan(m.auc) and math.isnan(m.accuracy)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="length"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(ValueError, match="0 \\(real\\) or 1"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.1, float("nan")])


def test_tpr_at_fpr_is_what_a_threshold_that_exists_catches() -> None:
    from training.metrics import tpr_at_fpr

    labels = [0] * 20 + [1] * 4
    scores = [0.01 * k for k in range(20)] + [0.05, 0.185, 0.5, 0.9]
    assert tpr_at_fpr(labels, scores, 0.0) == 0.5  # above the highest real: 0.5 and 0.9
    assert tpr_at_fpr(labels, scores, 0.05) == 0.75  # one real of 20 may be flagged: 0.185 too
    assert tpr_at_fpr(labels, scores, 0.01) == 0.5  # 1% of 20 reals rounds down to none
    assert math.isnan(tpr_at_fpr([0, 0], [0.1, 0.2], 0.05))
