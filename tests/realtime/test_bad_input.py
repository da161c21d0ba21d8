"""Bad and hard input through the real CLI (``realtime.cli.main``), one test per case.

For a failure the promise is: one ``error:`` line on stderr, a non-zero exit, no traceback, no hang,
nothing (not even a temp file) in ``--out``. Hard but valid input (no face, a 20-face gallery, 4K)
must be scored, not crash: "no face" is an ``uncertain`` verdict, which is an answer, not an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.cli import main
from tests.media import grid_of_faces, noise_frames, write_video
from tests.realtime.fixture_model import build_plumbing_model


def _fails_cleanly(capfd, argv: list[str], out: Path | None, message: str, code: int = 2) -> str:
    status = main(argv)
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert status == code, err
    assert len(errors) == 1, err
    assert message in errors[0], errors[0]
    assert "Traceback" not in err
    if out is not None:
        assert not out.exists() or list(out.iterdir()) == []
    return errors[0]


def _scan_argv(path: Path, out: Path, model: Path) -> list[str]:
    return ["scan", str(path), "--out", str(out), "--model", str(model)]


def test_missing_path(capfd, tmp_path: Path, plumbing_model: Path) -> None:
    out = tmp_path / "out"
    _fails_cleanly(
        capfd, _scan_argv(tmp_path / "nope.mp4", out, plumbing_model), out, "no such file or folder"
    )


def test_empty_file(capfd, tmp_path: Path, plumbing_model: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    out = tmp_path / "out"
    _fails_cleanly(capfd, _scan_argv(tmp_path / "empty.mp4", out, plumbing_model), out, "is empty (0 bytes)")


def test_corrupt_video(capfd, tmp_path: Path, plumbing_model: Path) -> None:
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    out = tmp_path / "out"
    _fails_cleanly(capfd, _scan_argv(path, out, plumbing_model), out, "is not a readable video")


def test_truncated_video(capfd, tmp_path: Path, carphone: Path, plumbing_model: Path) -> None:
    path = tmp_path / "truncated.mp4"
    path.write_bytes(carphone.read_bytes()[:300_000])  # cut before the index at the end of the file
    out = tmp_path / "out"
    _fails_cleanly(capfd, _scan_argv(path, out, plumbing_model), out, "is not a readable video")


def test_text_file_named_mp4(capfd, tmp_path: Path, plumbing_model: Path) -> None:
    path = tmp_path / "minutes.mp4"
    path.write_text("Minutes of the weekly call\n- action items\n")
    out = tmp_path / "out"
    _fails_cleanly(capfd, _scan_argv(path, out, plumbing_model), out, "is not a video: it contains text")


def test_model_of_random_bytes(capfd, tmp_path: Path, carphone: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(os.urandom(10_000))
    out = tmp_path / "out"
    _fails_cleanly(capfd, _scan_argv(carphone, out, model), out, "is not a readable ONNX model")


def test_onnx_model_without_callshield_metadata(capfd, tmp_path: Path, carphone: Path) -> None:
    model = build_plumbing_model(tmp_path / "bare.onnx", with_meta=False)
    out = tmp_path / "out"
    _fails_cleanly(capfd, _scan_argv(carphone, out, model), out, "not a CallShield model")


def test_camera_that_does_not_exist(capfd, plumbing_model: Path) -> None:
    if os.path.exists("/dev/video7"):
        pytest.skip("this machine has a /dev/video7")
    _fails_cleanly(
        capfd,
        ["monitor", "--source", "7", "--headless", "--model", str(plumbing_model)],
        None,
        "camera 7 could not be opened",
    )


def test_camera_that_stops_mid_stream(
    capfd, monkeypatch: pytest.MonkeyPatch, carphone_frames, plumbing_model: Path, tmp_path: Path
) -> None:
    import realtime.sources as sources
    from tests.realtime.test_sources import _CameraThatStops

    fake = _CameraThatStops(carphone_frames[:30], then="hang")
    monkeypatch.setattr(sources, "_open_cv_capture", lambda index: fake)  # the constructor's capture factory
    monkeypatch.setattr(sources, "CAMERA_TIMEOUT_S", 0.5)
    events = tmp_path / "events.jsonl"
    argv = ["monitor", "--source", "0", "--headless", "--events", str(events), "--model", str(plumbing_model)]
    _fails_cleanly(capfd, argv, None, "camera 0 stopped delivering frames for 0.5 s", code=3)
    lines = events.read_text().splitlines()  # what was seen before the loss is kept, whole lines only
    assert lines and all(json.loads(line)["track_id"] == 1 for line in lines)


def test_screen_without_display(capfd, plumbing_model: Path) -> None:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        pytest.skip("a display is available here")
    _fails_cleanly(
        capfd,
        ["monitor", "--source", "screen:0,0,640,480", "--headless", "--model", str(plumbing_model)],
        None,
        "no display",
    )


def test_zero_faces_is_one_error_line_and_nothing_written(
    capfd, tmp_path: Path, plumbing_model: Path
) -> None:
    clip = write_video(tmp_path / "noise.mp4", noise_frames(20, seed=3))
    out = tmp_path / "out"
    code = main(_scan_argv(clip, out, plumbing_model))
    captured = capfd.readouterr()
    assert code != 0
    assert captured.err.count("error:") == 1 and "noise.mp4: no face found in 20 frames" in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists() or not any(out.iterdir())


def test_folder_scan_reports_a_faceless_video_and_goes_on(
    capfd, tmp_path: Path, plumbing_model: Path, clips: dict[str, Path]
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    write_video(folder / "noise.mp4", noise_frames(20, seed=3))
    (folder / "face.mp4").write_bytes(clips["dark"].read_bytes())
    out = tmp_path / "out"
    code = main(_scan_argv(folder, out, plumbing_model))
    captured = capfd.readouterr()
    assert code == 1
    assert "error: noise.mp4: no face found" in captured.err
    assert (out / "face.json").is_file() and not (out / "noise.json").exists()


def test_gallery_of_20_faces(capfd, tmp_path: Path, carphone_frames, plumbing_model: Path) -> None:
    clip = write_video(
        tmp_path / "gallery.mp4", [grid_of_faces(f, 4, 5, tile=128) for f in carphone_frames[:16]]
    )
    out = tmp_path / "out"
    assert main([*_scan_argv(clip, out, plumbing_model), "--tiles", "2"]) == 0
    assert "gallery.mp4: " in capfd.readouterr().out
    tracks = json.loads((out / "gallery.json").read_text())["tracks"]
    assert len(tracks) == 20 and all(t["score"] is not None for t in tracks)
    # the default (auto tiles) finds every face too; one whole-frame pass finds fewer, without a crash
    assert main(_scan_argv(clip, tmp_path / "auto", plumbing_model)) == 0
    assert len(json.loads((tmp_path / "auto" / "gallery.json").read_text())["tracks"]) == 20
    assert main([*_scan_argv(clip, tmp_path / "single_pass", plumbing_model), "--tiles", "1"]) == 0
    single = json.loads((tmp_path / "single_pass" / "gallery.json").read_text())["tracks"]
    assert 0 < len(single) < 20


def test_4k_frames(capfd, tmp_path: Path, carphone_frames, plumbing_model: Path) -> None:
    uhd = []
    for frame in carphone_frames[:12]:  # one window of 8 + 5 good windows needs 12 frames
        canvas = np.zeros((2160, 3840, 3), np.uint8)
        canvas[:, 600:3240] = cv2.resize(frame, (2640, 2160), interpolation=cv2.INTER_LINEAR)
        uhd.append(canvas)
    clip = write_video(tmp_path / "uhd.mp4", uhd)
    out = tmp_path / "out"
    assert main(_scan_argv(clip, out, plumbing_model)) == 0
    assert "uhd.mp4: " in capfd.readouterr().out
    result = json.loads((out / "uhd.json").read_text())
    assert (
        result["n_frames"] == 12 and len(result["tracks"]) == 1 and result["tracks"][0]["score"] is not None
    )
