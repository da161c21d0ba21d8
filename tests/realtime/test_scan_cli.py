"""``callshield scan`` through the real CLI entry point, on real clips, with the plumbing model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from realtime.cli import main


def _scan(*args: str) -> int:
    return main(["scan", *args])


def test_scan_one_file_writes_json_and_plot(plumbing_model: Path, clips, tmp_path: Path, capfd) -> None:
    out = tmp_path / "out"
    code = _scan(str(clips["bright"]), "--out", str(out), "--model", str(plumbing_model))
    captured = capfd.readouterr()
    assert code == 0, captured.err
    assert re.fullmatch(r"bright\.mp4: fake \(score \d\.\d\d, 1 face scored, 60 frames\)\n", captured.out)
    assert captured.err == ""
    assert sorted(p.name for p in out.iterdir()) == ["bright.json", "bright.png"]
    data = json.loads((out / "bright.json").read_text())
    assert data["verdict"] == "fake" and data["n_frames"] == 60 and len(data["tracks"]) == 1
    assert (out / "bright.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scan_folder_reports_a_bad_file_and_goes_on(
    plumbing_model: Path, clips, tmp_path: Path, capfd
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(clips["bright"], folder / "a_bright.mp4")
    (folder / "b_notes.mp4").write_text("meeting notes, not a video\n")
    shutil.copy(clips["dark"], folder / "c_dark.mp4")
    (folder / "readme.txt").write_text("ignored: not a video suffix")
    out = tmp_path / "out"
    code = _scan(str(folder), "--out", str(out), "--model", str(plumbing_model), "--max-frames", "40")
    captured = capfd.readouterr()
    assert code == 1
    lines = captured.out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["a_bright.mp4", "c_dark.mp4"]
    assert "a_bright.mp4: fake" in lines[0] and "c_dark.mp4: real" in lines[1]
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "b_notes.mp4" in errors[0] and "contains text" in errors[0]
    assert "1 of 3 videos could not be scanned" in captured.err
    assert "Traceback" not in captured.err
    assert sorted(p.name for p in out.iterdir()) == [
        "a_bright.json",
        "a_bright.png",
        "c_dark.json",
        "c_dark.png",
    ]
    assert json.loads((out / "c_dark.json").read_text())["n_frames"] == 40


def test_videos_sharing_a_stem_do_not_overwrite_each_other(
    plumbing_model: Path, carphone: Path, tmp_path: Path, capfd
) -> None:
    from tests.media import read_frames, write_video

    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(carphone, folder / "call.mp4")
    write_video(folder / "call.mkv", read_frames(carphone, limit=20))
    out = tmp_path / "out"
    assert _scan(str(folder), "--out", str(out), "--model", str(plumbing_model), "--max-frames", "20") == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "call.mkv.json",
        "call.mkv.png",
        "call.mp4.json",
        "call.mp4.png",
    ]


def test_scan_without_out_writes_nothing(
    plumbing_model: Path, carphone: Path, tmp_path: Path, capfd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _scan(str(carphone), "--model", str(plumbing_model), "--max-frames", "15") == 0
    assert "carphone_pristine.mp4: " in capfd.readouterr().out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-frames", "0"], "--max-frames must be at least 1"),
        (["--tiles", "0"], "--tiles must be auto or at least 1"),
    ],
)
def test_bad_options_are_one_error_line(plumbing_model: Path, carphone: Path, capfd, args, message) -> None:
    assert _scan(str(carphone), "--model", str(plumbing_model), *args) == 2
    assert capfd.readouterr().err == f"error: {message}\n"


def test_folder_without_videos(tmp_path: Path, capfd) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert _scan(str(tmp_path)) == 2
    err = capfd.readouterr().err
    assert err.startswith("error: ") and "contains no video files" in err and err.count("\n") == 1
