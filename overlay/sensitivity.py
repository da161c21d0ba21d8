"""The sensitivity control: where the fake threshold may move, derived from the model's own calibration.

A CallShield model carries the calibrated scores of its held-out calibration videos
(``meta.metrics["calibration"]``: ``calib_real_scores`` and ``calib_fake_scores``). The range the
slider moves the fake threshold in is:

* **low end** (most sensitive): the median score of the *real* calibration videos, but never closer
  than the hysteresis margin to the ``suspicious`` level (the states must stay ordered). Below it,
  more than half of real callers would end up flagged fake: no setting should do that.
* **high end** (least sensitive): the highest score any calibration video (real or fake) got. Above
  it the model flagged none of them, so the alarm would be off in all but name.
* The model's own threshold always lies inside (the range is widened to include it).

For ``callshield-v5`` this is 0.61 to 0.75 around the shipped 0.68. A model without calibration
scores gets its threshold -0.10 / +0.15 (clipped to stay above ``suspicious`` and below 0.95).
The slider reads 0-100 from least to most sensitive.
"""

from __future__ import annotations

from dataclasses import replace
from statistics import median
from typing import Any

from engines.artifact import Thresholds

MARGIN = 0.05  # realtime.risk.RiskConfig.margin: the fake level must stay this far above suspicious
MIN_SPAN = 0.04


def threshold_range(thresholds: Thresholds, metrics: dict[str, Any] | None = None) -> tuple[float, float]:
    """``(lowest, highest)`` fake threshold the sensitivity control may set (see the module docstring)."""
    floor = min(thresholds.suspicious + MARGIN, thresholds.fake)
    calibration = (metrics or {}).get("calibration", {}) if isinstance(metrics, dict) else {}
    real = [float(v) for v in calibration.get("calib_real_scores", []) or []]
    fake = [float(v) for v in calibration.get("calib_fake_scores", []) or []]
    if real:
        low = max(floor, median(real))
        high = max(real + fake)
    else:
        low = max(floor, thresholds.fake - 0.10)
        high = min(0.95, thresholds.fake + 0.15)
    low, high = min(low, thresholds.fake), max(high, thresholds.fake)
    if high - low < MIN_SPAN:
        high = min(0.99, low + MIN_SPAN)
    return round(low, 4), round(high, 4)


class Sensitivity:
    """Maps the slider's 0-100 (least to most sensitive) onto the fake threshold's range."""

    def __init__(self, thresholds: Thresholds, metrics: dict[str, Any] | None = None) -> None:
        self.model = thresholds
        self.low, self.high = threshold_range(thresholds, metrics)

    def fake_level(self, value: int) -> float:
        value = min(100, max(0, int(value)))
        return self.high - (self.high - self.low) * value / 100.0

    def value_for(self, fake_level: float) -> int:
        if self.high <= self.low:
            return 50
        return round(100 * (self.high - fake_level) / (self.high - self.low))

    @property
    def default_value(self) -> int:
        return self.value_for(self.model.fake)

    def thresholds(self, value: int) -> Thresholds:
        """The model's thresholds with the fake level the slider at ``value`` asks for."""
        return replace(self.model, fake=self.fake_level(value))
