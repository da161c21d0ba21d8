"""The session clock across a sender's restarts and pauses (realtime.timeline)."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.timeline import MAX_GAP_S, Timeline


def _place_all(timeline: Timeline, times: list[float]) -> tuple[list[float], list[bool]]:
    placed = [timeline.place(t) for t in times]
    return [t for t, _ in placed], [new for _, new in placed]


def test_a_steady_stream_keeps_its_own_times_in_one_segment() -> None:
    timeline = Timeline()
    source = [i / 30 for i in range(90)]
    times, new = _place_all(timeline, source)
    assert times == pytest.approx(source) and not any(new) and timeline.segments == 1


def test_a_looped_clip_starts_a_segment_per_loop_one_frame_after_the_last() -> None:
    timeline = Timeline()
    loop = [i / 30 for i in range(72)]  # a 2.4 s clip whose timestamps restart at 0
    times, new = _place_all(timeline, loop * 3)
    assert timeline.segments == 3
    assert [i for i, flag in enumerate(new) if flag] == [72, 144]
    steps = np.diff(times)
    assert steps.min() > 0  # never back, never still
    assert steps[71] == pytest.approx(1 / 30)  # the restart sits one frame step after the last frame
    assert times[-1] == pytest.approx(3 * 72 / 30 - 1 / 30)


def test_a_pause_longer_than_the_gap_keeps_the_real_time_and_opens_a_segment() -> None:
    timeline = Timeline()
    times, new = _place_all(timeline, [0.0, 0.033, 0.066, 0.066 + MAX_GAP_S + 0.5, 3.0])
    assert new == [False, False, False, True, False]
    assert times[3] == pytest.approx(0.066 + MAX_GAP_S + 0.5)
    short = Timeline()
    _place_all(short, [0.0, 1.0, 1.0 + MAX_GAP_S - 0.1])  # a slow stream, not a pause
    assert short.segments == 1


def test_repeated_and_negative_timestamps_still_move_the_clock_forward() -> None:
    timeline = Timeline()
    times, new = _place_all(timeline, [-1.0, -1.0, -0.9])
    assert times[0] == 0.0 and times[1] > times[0] and times[2] > times[1]
    assert not any(new)
