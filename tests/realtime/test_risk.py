"""Calibration, smoothing, hysteresis and abstention on synthetic logit sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engines.artifact import Thresholds
from realtime.risk import AbstainReason, RiskConfig, RiskState, TrackRisk, calibrate, next_state

FPS = 30.0


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _run(probabilities, config: RiskConfig | None = None, quality=None) -> list:
    risk = TrackRisk(config or RiskConfig())
    readings = []
    for i, p in enumerate(probabilities):
        ok = True if quality is None else quality[i]
        readings.append(risk.update(i / FPS, None if p is None else _logit(p), ok))
    return readings


def test_calibration_is_a_temperature_scaled_sigmoid() -> None:
    assert calibrate(0.0) == 0.5
    assert calibrate(2.0) == pytest.approx(1 / (1 + math.exp(-2)))
    assert calibrate(2.0, temperature=2.0) == pytest.approx(calibrate(1.0))
    assert calibrate(-1000.0) == 0.0 and calibrate(1000.0) == 1.0  # no overflow


def test_ema_uses_a_time_constant_not_a_per_update_factor() -> None:
    config = RiskConfig(tau_s=0.5)
    at_30fps = _run([0.1] + [0.9] * 15, config)[-1].risk  # 0.5 s of frames at 30 fps
    slow = TrackRisk(config)
    slow.update(0.0, _logit(0.1), True)
    for i in range(1, 6):
        reading = slow.update(i * 0.1, _logit(0.9), True)  # the same 0.5 s at 10 fps
    expected = 0.9 - 0.8 * math.exp(-1.0)
    assert at_30fps == pytest.approx(expected, abs=1e-6)
    assert reading.risk == pytest.approx(expected, abs=1e-6)


def test_states_need_a_full_window_first() -> None:
    readings = _run([None] * 7 + [0.05])
    assert all(r.state is RiskState.UNCERTAIN and r.reason is AbstainReason.WARMING_UP for r in readings[:7])
    assert readings[-1].state is RiskState.REAL and readings[-1].reason is None


def test_lukewarm_start_stays_uncertain_until_decisive() -> None:
    readings = _run([0.42] * 30 + [0.2] * 60)
    assert {r.state for r in readings[:30]} == {RiskState.UNCERTAIN}
    assert readings[0].reason is AbstainReason.UNDECIDED
    assert readings[-1].state is RiskState.REAL


def test_hysteresis_does_not_flap_on_a_noisy_risk_at_a_threshold() -> None:
    rng = np.random.default_rng(0)
    noisy = np.clip(0.66 + rng.normal(0, 0.025, 300), 0.01, 0.99)  # hovering around fake = 0.65
    states = [r.state for r in _run(list(noisy), RiskConfig(tau_s=0.1))]
    changes = sum(a is not b for a, b in zip(states, states[1:], strict=False))
    no_hysteresis = [r.state for r in _run(list(noisy), RiskConfig(tau_s=0.1, margin=0.0))]
    changes_without = sum(a is not b for a, b in zip(no_hysteresis, no_hysteresis[1:], strict=False))
    assert changes <= 2
    assert changes_without > 5 * max(changes, 1)  # the margin is what holds it steady


def test_enter_and_leave_levels_differ() -> None:
    th, m = Thresholds(real=0.35, suspicious=0.5, fake=0.65), 0.05
    s = RiskState
    assert next_state(s.REAL, 0.49, th, m) is s.REAL
    assert next_state(s.REAL, 0.50, th, m) is s.SUSPICIOUS
    assert next_state(s.REAL, 0.70, th, m) is s.FAKE
    assert next_state(s.SUSPICIOUS, 0.46, th, m) is s.SUSPICIOUS
    assert next_state(s.SUSPICIOUS, 0.44, th, m) is s.REAL
    assert next_state(s.SUSPICIOUS, 0.65, th, m) is s.FAKE
    assert next_state(s.FAKE, 0.61, th, m) is s.FAKE
    assert next_state(s.FAKE, 0.59, th, m) is s.SUSPICIOUS
    assert next_state(s.FAKE, 0.30, th, m) is s.REAL
    assert next_state(s.UNCERTAIN, 0.40, th, m) is s.UNCERTAIN
    assert next_state(s.UNCERTAIN, 0.35, th, m) is s.REAL
    assert next_state(s.UNCERTAIN, 0.55, th, m) is s.SUSPICIOUS


def test_a_swap_that_starts_mid_call_escalates_then_recovers() -> None:
    sequence = [0.1] * 60 + [0.95] * 60 + [0.1] * 90
    states = [r.state for r in _run(sequence)]
    assert states[59] is RiskState.REAL
    assert RiskState.SUSPICIOUS in states[60:120] and states[119] is RiskState.FAKE
    first_fake = states.index(RiskState.FAKE)
    assert 60 < first_fake < 60 + 30  # within a second of the swap
    assert states[-1] is RiskState.REAL


def test_poor_quality_abstains_instead_of_alarming() -> None:
    sequence = [0.1] * 30 + [0.99] * 30 + [0.1] * 60
    quality = [True] * 30 + [False] * 30 + [True] * 60  # e.g. the face went dark while the model spiked
    readings = _run(sequence, quality=quality)
    assert all(
        r.state is RiskState.UNCERTAIN and r.reason is AbstainReason.LOW_QUALITY for r in readings[30:60]
    )
    assert RiskState.FAKE not in {r.state for r in readings}
    assert RiskState.SUSPICIOUS not in {r.state for r in readings}
    assert readings[45].risk == pytest.approx(readings[29].risk)  # the bad stretch did not move the risk
    assert readings[45].p_fake == pytest.approx(0.99)  # but the raw score is still reported
    assert readings[-1].state is RiskState.REAL
