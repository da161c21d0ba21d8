"""score_video end to end on real clips, with the brightness-probe plumbing model (not a detector).

The probe's logit is 0 on carphone's own crops, so a brightened carphone must come out "fake" and a
darkened one "real": that checks windows, averaging, max over tracks and thresholds, not detection.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from realtime.errors import InputError
from realtime.video_score import VideoResult, min_good_windows, score_video, verdict_for


def test_brighter_clip_is_fake_and_darker_clip_is_real(plumbing_session, clips) -> None:
    bright = score_video(clips["bright"], plumbing_session)
    dark = score_video(clips["dark"], plumbing_session)
    assert bright.verdict == "fake" and bright.score > 0.65
    assert dark.verdict == "real" and dark.score < 0.35
    for result in (bright, dark):
        assert result.n_frames == 60 and result.complete and result.warnings == []
        assert [tr.id for tr in result.tracks] == [1]
        track = result.tracks[0]
        assert track.n_frames == 60 and len(track.timeline) == 60
        window = plumbing_session.meta.window
        assert len(track.window_scores) == 60 - window + 1
        assert track.score == pytest.approx(np.mean(track.window_scores))
        assert result.score == track.score
        assert set(track.timeline[0]) == {"t", "p_fake", "risk", "state"}
        assert track.timeline[0]["state"] == "uncertain" and track.timeline[-1]["state"] == result.verdict


def test_video_score_is_the_most_suspicious_face(plumbing_session, carphone_frames, tmp_path: Path) -> None:
    from tests.media import tint, write_video

    frames = [
        np.concatenate([d, b], axis=1)
        for d, b in zip(
            tint(carphone_frames[:40], gain=0.7), tint(carphone_frames[:40], offset=45), strict=True
        )
    ]
    result = score_video(write_video(tmp_path / "two.mp4", frames), plumbing_session)
    scores = {tr.id: tr.score for tr in result.tracks}
    assert len(scores) == 2 and all(s is not None for s in scores.values())
    assert result.score == max(scores.values()) and result.verdict == "fake"
    assert min(scores.values()) < 0.35


def test_no_face_is_uncertain_not_an_error(plumbing_session, clips) -> None:
    result = score_video(clips["noise"], plumbing_session)
    assert (result.verdict, result.score, result.tracks) == ("uncertain", None, [])
    assert result.note.startswith("no face")  # MediaPipe may glimpse a "face" in noise for a frame
    assert result.n_frames == 30


def test_faces_too_dark_to_judge_abstain(plumbing_session, clips) -> None:
    result = score_video(clips["too_dark"], plumbing_session)
    assert result.verdict == "uncertain" and result.score is None
    assert result.tracks and all(tr.score is None and tr.window_scores == [] for tr in result.tracks)
    assert "too small, blurred, dark" in result.note
    assert {p["state"] for tr in result.tracks for p in tr.timeline} == {"uncertain"}


def test_max_frames_and_json_form(plumbing_session, carphone: Path) -> None:
    result = score_video(carphone, plumbing_session, max_frames=30)
    assert result.n_frames == 30
    data = json.loads(result.to_json())
    assert data["n_frames"] == 30 and data["verdict"] == result.verdict
    assert len(data["tracks"][0]["timeline"]) == 30
    assert data["thresholds"] == {"real": 0.35, "suspicious": 0.5, "fake": 0.65}
    assert data["model_version"] == "plumbing-fixture"
    assert result.to_json().count("\n") > 30  # one timeline point per line, not one giant line


def test_each_video_starts_with_fresh_tracks(plumbing_session, carphone: Path) -> None:
    first = score_video(carphone, plumbing_session, max_frames=20)
    second = score_video(carphone, plumbing_session, max_frames=20)
    assert [tr.id for tr in first.tracks] == [tr.id for tr in second.tracks] == [1]
    assert first.score == second.score


def test_damaged_file_is_scored_up_to_the_damage(plumbing_session, carphone: Path, tmp_path: Path) -> None:
    data = bytearray(carphone.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20000] = bytes(20000)
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    result = score_video(path, plumbing_session)
    assert 20 < result.n_frames < 120
    assert not result.complete and result.warnings


def test_unreadable_file_raises_input_error(plumbing_session, tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(InputError, match="contains text"):
        score_video(path, plumbing_session)


def test_verdict_rules(plumbing_session) -> None:
    th = plumbing_session.meta.thresholds
    assert [verdict_for(s, th) for s in (None, 0.1, 0.35, 0.5, 0.65, 0.9)] == [
        "uncertain",
        "real",
        "real",
        "uncertain",
        "fake",
        "fake",
    ]
    assert min_good_windows(plumbing_session.meta) == 5
    assert VideoResult("x.mp4", 10, None, "uncertain", note="no face found").summary() == (
        "x.mp4: uncertain (no score, 0 faces scored, 10 frames; no face found)"
    )
