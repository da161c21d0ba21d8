"""realtime.annotate on a real frame: what is drawn, where, in which colour."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engines.artifact import Thresholds
from realtime.annotate import annotate
from realtime.events import FaceEvent
from realtime.style import STATE_RGB, threshold_bands


def share(rgb: np.ndarray, state: str, tolerance: int = 20) -> float:
    target = np.array(STATE_RGB[state], np.int16)
    return float(np.all(np.abs(rgb.astype(np.int16) - target) <= tolerance, axis=-1).mean())


@pytest.fixture(scope="module")
def frame(carphone_frames) -> np.ndarray:
    return cv2.resize(carphone_frames[0], (640, 480))


def test_each_state_draws_its_own_colour_and_the_frame_is_not_touched(frame: np.ndarray) -> None:
    original = frame.copy()
    for state in ("real", "suspicious", "fake", "uncertain"):
        event = FaceEvent(0, 0, 3, (200.0, 100.0, 420.0, 360.0), 0.5, 0.5, state)
        out = annotate(frame, [event], "annotated")
        assert share(out[360, 210:410], state) > 0.9  # the box's bottom edge
        others = [s for s in STATE_RGB if s != state]
        assert all(share(out[360, 210:410], s) < 0.05 for s in others)
    assert np.array_equal(frame, original)
    assert annotate(frame, [], "annotated") is frame
    assert annotate(frame, [event], "clean") is frame
    with pytest.raises(ValueError, match="style must be one of"):
        annotate(frame, [event], "neon")


def test_the_gauge_shows_the_bands_and_fills_up_to_the_risk(frame: np.ndarray) -> None:
    th = Thresholds(real=0.3, suspicious=0.5, fake=0.7)
    event = FaceEvent(0, 0, 1, (100.0, 100.0, 400.0, 300.0), 0.6, 0.6, "suspicious")
    out = annotate(frame, [event], "annotated", th)
    ys = [y for y in range(300, 340) if share(out[y, 110:270], "suspicious") > 0.9]
    assert ys, "no filled gauge row under the box"
    row = out[ys[len(ys) // 2]]
    fill_end = 100 + round(0.6 * 300)
    assert share(row[105 : fill_end - 3], "suspicious") > 0.95
    assert share(row[fill_end + 4 : 395], "suspicious") < 0.05  # beyond the needle: dim bands
    assert [b[2] for b in threshold_bands(th)] == ["real", "uncertain", "suspicious", "fake"]


def test_uncertain_says_why_under_the_gauge(frame: np.ndarray) -> None:
    quiet = FaceEvent(0, 0, 1, (100.0, 100.0, 300.0, 300.0), None, None, "uncertain", "warming_up")
    flagged = FaceEvent(
        0, 0, 1, (100.0, 100.0, 300.0, 300.0), None, None, "uncertain", "warming_up", ["too_dark"]
    )
    judged = FaceEvent(0, 0, 1, (100.0, 100.0, 300.0, 300.0), 0.2, 0.2, "real")
    below = slice(313, 345)  # under the gauge (which ends at y 311 at this size)
    text = [annotate(frame, [e], "annotated")[below, 100:300] for e in (quiet, flagged, judged)]
    drawn = [float(np.any(t != frame[below, 100:300], axis=-1).mean()) for t in text]
    assert drawn[0] > 0.05 and drawn[1] > 0.05 and drawn[2] == 0.0
    assert not np.array_equal(text[0], text[1])  # "seen too briefly" vs "face too dark"


def test_badge_is_small_and_at_the_top_right_of_the_box(frame: np.ndarray) -> None:
    event = FaceEvent(0, 0, 1, (200.0, 100.0, 420.0, 360.0), 0.8, 0.8, "fake")
    out = annotate(frame, [event], "badge")
    changed = np.any(out != frame, axis=-1)
    ys, xs = np.nonzero(changed)
    assert xs.max() <= 422 and xs.min() > 300 and ys.max() < 130  # (+2: anti-aliased rim)
    assert changed.mean() < 0.01


def test_boxes_partly_outside_the_frame_do_not_fail(frame: np.ndarray) -> None:
    event = FaceEvent(0, 0, 1, (-50.0, 400.0, 700.0, 520.0), 0.8, 0.8, "fake")
    for style in ("annotated", "badge"):
        assert annotate(frame, [event], style).shape == frame.shape
