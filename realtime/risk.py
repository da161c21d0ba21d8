"""From a track's logits to the state its gauge shows: calibrate, smooth, hysteresis, abstain.

* **Calibrate**: ``p_fake = sigmoid(logit / T)`` with the temperature ``T`` fitted at training time
  (ModelMeta.temperature), so 0.7 means what it says.
* **Smooth**: an exponential moving average with a *time* constant (``tau_s``), not a per-update
  factor, so a camera at 15 fps and a file at 60 fps settle equally fast, and dropped frames do
  not make the gauge jumpier.
* **Hysteresis**: each boundary between states is entered at one level and left at a lower one
  (``margin`` below), so a risk hovering at a threshold does not make the gauge flap.
* **Abstain**: ``uncertain`` while the face is too poor to judge (quality flags), while it has not
  been seen for a full window yet, and at the start while the risk sits between the ``real`` and
  ``suspicious`` levels. A false alarm on a real caller is the failure users hate most; saying
  "not sure" is better.

States (ordered): ``real`` < ``suspicious`` < ``fake``, plus ``uncertain``. With the default
thresholds (real 0.35, suspicious 0.5, fake 0.65) and margin 0.05:

* from ``uncertain``: risk <= 0.35 -> real, >= 0.65 -> fake, >= 0.5 -> suspicious, else stay;
* ``real`` -> ``suspicious`` at >= 0.5 (-> ``fake`` at >= 0.65);
* ``suspicious`` -> ``fake`` at >= 0.65, -> ``real`` below 0.45;
* ``fake`` -> ``suspicious`` below 0.6 (-> ``real`` below 0.45).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

from engines.artifact import Thresholds


class RiskState(str, Enum):
    UNCERTAIN = "uncertain"
    REAL = "real"
    SUSPICIOUS = "suspicious"
    FAKE = "fake"


class AbstainReason(str, Enum):
    """Why a state is ``uncertain``."""

    WARMING_UP = "warming_up"  # seen for fewer frames than the model's window
    LOW_QUALITY = "low_quality"  # face too small / blurred / dark / bright / low confidence
    UNDECIDED = "undecided"  # risk between the real and suspicious levels since the start


def calibrate(logit: float, temperature: float = 1.0) -> float:
    """Temperature-scaled sigmoid, numerically safe for any logit."""
    z = float(logit) / max(float(temperature), 1e-6)
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class RiskConfig:
    """How a track's risk reacts: ``tau_s`` EMA time constant, ``margin`` hysteresis width."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    temperature: float = 1.0
    tau_s: float = 0.5
    margin: float = 0.05


@dataclass(frozen=True)
class RiskReading:
    """One update's result: ``p_fake`` of the latest window, smoothed ``risk``, ``state``."""

    p_fake: float | None
    risk: float | None
    state: RiskState
    reason: AbstainReason | None


def next_state(previous: RiskState, risk: float, thresholds: Thresholds, margin: float) -> RiskState:
    """The hysteresis rule of the module docstring, as a pure function (easy to test exhaustively)."""
    real_level, warn_level, fake_level = thresholds.real, thresholds.suspicious, thresholds.fake
    leave_fake = fake_level - margin
    leave_suspicious = warn_level - margin
    if previous is RiskState.UNCERTAIN:
        if risk >= fake_level:
            return RiskState.FAKE
        if risk >= warn_level:
            return RiskState.SUSPICIOUS
        if risk <= real_level:
            return RiskState.REAL
        return RiskState.UNCERTAIN
    if previous is RiskState.REAL:
        if risk >= fake_level:
            return RiskState.FAKE
        return RiskState.SUSPICIOUS if risk >= warn_level else RiskState.REAL
    if previous is RiskState.SUSPICIOUS:
        if risk >= fake_level:
            return RiskState.FAKE
        return RiskState.REAL if risk < leave_suspicious else RiskState.SUSPICIOUS
    # FAKE
    if risk >= leave_fake:
        return RiskState.FAKE
    return RiskState.REAL if risk < leave_suspicious else RiskState.SUSPICIOUS


class TrackRisk:
    """The risk state of one track; feed it every frame the face is seen."""

    def __init__(self, config: RiskConfig) -> None:
        self.config = config
        self.p_fake: float | None = None
        self.risk: float | None = None
        self.state = RiskState.UNCERTAIN  # last state decided on a good frame
        self._last_t: float | None = None

    def update(self, t: float, logit: float | None, quality_ok: bool) -> RiskReading:
        """Advance to time ``t``.

        ``logit``: the head's output if a new window was scored this frame, else None (warming up,
        or between strides). ``quality_ok``: False when the face is flagged this frame; the state is
        then ``uncertain`` and the smoothed risk does not move, and judging resumes from scratch
        (``uncertain``) once the face is good again, because what was decided before a bad stretch
        may no longer hold.
        """
        if not quality_ok:
            self.state = RiskState.UNCERTAIN
            if logit is not None:
                self.p_fake = calibrate(logit, self.config.temperature)
            return RiskReading(self.p_fake, self.risk, RiskState.UNCERTAIN, AbstainReason.LOW_QUALITY)
        if logit is not None:
            self.p_fake = calibrate(logit, self.config.temperature)
            if self.risk is None or self._last_t is None:
                self.risk = self.p_fake
            else:
                alpha = 1.0 - math.exp(-max(t - self._last_t, 0.0) / max(self.config.tau_s, 1e-6))
                self.risk += alpha * (self.p_fake - self.risk)
            self._last_t = t
            self.state = next_state(self.state, self.risk, self.config.thresholds, self.config.margin)
        if self.risk is None:
            return RiskReading(None, None, RiskState.UNCERTAIN, AbstainReason.WARMING_UP)
        reason = AbstainReason.UNDECIDED if self.state is RiskState.UNCERTAIN else None
        return RiskReading(self.p_fake, self.risk, self.state, reason)
