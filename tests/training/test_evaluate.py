"""training.evaluate: report logic on synthetic scores; the verb end to end on real face video."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from training.evaluate import (
    NO_FACE_SCORE,
    Skipped,
    VideoScore,
    format_table,
    plot_roc,
    score_rows,
    summarise,
    write_json_atomic,
)
from training.manifest import ManifestRow


def _row(i: int, label: str, source: str, method: str = "none") -> ManifestRow:
    return ManifestRow(
        f"{source}/{i}.mp4", "video", label, source, f"{source}_{i}", method if label == "fake" else "none"
    )


def _synthetic(seed: int = 0) -> list[VideoScore]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(40):
        out.append(VideoScore(_row(i, "real", "calls"), float(rng.uniform(0, 0.6)), rng.uniform(0, 0.6, 5)))
    for i in range(40, 60):
        out.append(
            VideoScore(
                _row(i, "fake", "calls", "swapA"), float(rng.uniform(0.3, 1.0)), rng.uniform(0.3, 1, 5)
            )
        )
    for i in range(60, 70):
        out.append(VideoScore(_row(i, "fake", "ffpp", "swapB"), float(rng.uniform(0.5, 1.0))))
    for i in range(70, 80):
        out.append(VideoScore(_row(i, "real", "lfw"), float(rng.uniform(0.0, 0.9))))
    return out


def test_summary_matches_sklearn_overall_per_source_and_per_method() -> None:
    scored = _synthetic()
    report = summarise(scored, threshold=0.65)
    y = np.array([v.row.target for v in scored])
    s = np.array([v.score for v in scored], float)
    assert report["n_videos"] == 80 and report["n_real"] == 50 and report["n_fake"] == 30
    assert report["video_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert report["video_ap"] == pytest.approx(skm.average_precision_score(y, s))
    assert report["video_accuracy"] == pytest.approx(skm.accuracy_score(y, s >= 0.65))
    assert report["real_fpr_at_threshold"] == pytest.approx(np.mean(s[y == 0] >= 0.65))
    # per source: 'calls' has both classes; 'ffpp' only fakes and 'lfw' only reals -> no AUC of their own
    calls = np.array([v.row.source == "calls" for v in scored])
    assert report["by_source"]["calls"]["video_auc"] == pytest.approx(skm.roc_auc_score(y[calls], s[calls]))
    assert report["by_source"]["ffpp"] == {
        "video_auc": None,
        "n": 10,
        "n_real": 0,
        "n_fake": 10,
        "real_fpr_at_threshold": None,
    }
    assert report["by_source"]["lfw"]["video_auc"] is None
    assert report["by_source"]["lfw"]["real_fpr_at_threshold"] == pytest.approx(np.mean(s[70:] >= 0.65))
    # per method: that method's fakes against ALL reals
    for method, fakes in (("swapA", slice(40, 60)), ("swapB", slice(60, 70))):
        ys = np.r_[np.zeros(50), np.ones(fakes.stop - fakes.start)]
        ss = np.r_[s[:40], s[70:], s[fakes]]
        assert report["by_method"][method]["video_auc"] == pytest.approx(skm.roc_auc_score(ys, ss)), method
        assert report["by_method"][method]["n"] == ys.size
    # per family: these synthetic rows sit in no dataset folder, so every fake is family "other"
    other = report["by_family"]["other"]
    assert other["video_auc"] == pytest.approx(skm.roc_auc_score(y, s)) and other["n_fake"] == 30
    assert other["caught_at_threshold"] == pytest.approx(np.mean(s[y == 1] >= 0.65))
    # frame level: every window of every video, labelled by its video
    wy = np.r_[np.zeros(200), np.ones(100)]
    ws = np.concatenate([v.window_scores for v in scored])
    assert report["n_windows"] == 300
    assert report["frame_auc"] == pytest.approx(skm.roc_auc_score(wy, ws))


def test_no_face_counts_as_uncertain_and_is_listed() -> None:
    scored = _synthetic()
    scored[0] = VideoScore(scored[0].row, None)
    scored[45] = VideoScore(scored[45].row, None)
    report = summarise(scored, 0.65)
    s = np.array([v.effective_score for v in scored])
    assert s[0] == s[45] == NO_FACE_SCORE
    y = np.array([v.row.target for v in scored])
    assert report["video_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert report["no_face"] == [scored[0].row.path, scored[45].row.path]
    # the per-video list keeps the unscored file as null, not as the stand-in 0.5
    videos = {v["path"]: v for v in report["videos"]}
    assert len(videos) == 80
    assert videos[scored[0].row.path]["score"] is None
    assert videos[scored[1].row.path]["score"] == pytest.approx(scored[1].score)
    assert videos[scored[1].row.path]["flagged"] == (scored[1].effective_score >= 0.65)
    assert videos[scored[45].row.path]["label"] == "fake"
    table = format_table(report)
    assert "no usable face" in table and scored[45].row.path in table


def test_single_class_report_is_valid_json_with_a_note(tmp_path: Path) -> None:
    scored = [VideoScore(_row(i, "real", "webcam"), 0.1 * i) for i in range(5)]
    report = summarise(scored, 0.65, skipped=[Skipped(_row(9, "real", "webcam"), "not a video")])
    assert report["video_auc"] is None and report["video_eer"] is None
    assert report["real_fpr_at_threshold"] == pytest.approx(0.0)
    assert any("only real" in n for n in report["notes"])
    assert report["skipped"] == [{"path": "webcam/9.mp4", "reason": "not a video"}]
    out = write_json_atomic(report, tmp_path / "r.json")
    back = json.loads(out.read_text())  # strict JSON: NaN would have raised on write
    assert back["n_videos"] == 5 and back["video_auc"] is None
    assert "n/a" in format_table(report)


def test_score_rows_skips_failures_with_one_warning_each() -> None:
    rows = [_row(i, "real" if i % 2 else "fake", "s", "m") for i in range(6)]
    lines: list[str] = []

    def scorer(row: ManifestRow) -> VideoScore:
        if row.path.endswith(("2.mp4", "5.mp4")):
            raise ValueError(f"cannot decode {row.path}\nsecond line")
        return VideoScore(row, 0.5)

    scored, skipped = score_rows(rows, scorer, progress=False, warn=lines.append)
    assert [v.row.path for v in scored] == ["s/0.mp4", "s/1.mp4", "s/3.mp4", "s/4.mp4"]
    assert [(s.row.path, s.reason) for s in skipped] == [
        ("s/2.mp4", "cannot decode s/2.mp4"),
        ("s/5.mp4", "cannot decode s/5.mp4"),
    ]
    assert lines == [
        "warning: skipped s/2.mp4: cannot decode s/2.mp4",
        "warning: skipped s/5.mp4: cannot decode s/5.mp4",
    ]


def test_roc_plot_is_a_png(tmp_path: Path) -> None:
    out = plot_roc(_synthetic(), tmp_path / "plots" / "roc.png")
    import cv2

    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 300
    assert image.std() > 10  # curves and text, not a blank canvas
    assert sorted(p.name for p in out.parent.iterdir()) == ["roc.png"]


def test_nan_free_when_everything_scored_equal() -> None:
    scored = [VideoScore(_row(i, "real" if i < 3 else "fake", "s", "m"), 0.5) for i in range(6)]
    report = summarise(scored, 0.65)
    assert report["video_auc"] == pytest.approx(0.5)
    assert not any(isinstance(v, float) and math.isnan(v) for v in report.values())


# ------------------------------------------------------------------------------------------------
# the verb end to end: real face video (carphone), MediaPipe, ONNX Runtime, real codecs
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def face_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Carphone as is, darkened, brightened (x2), pure noise, and a text file named .mp4."""
    from tests.media import carphone_path, noise_frames, read_frames, tint, write_video

    frames = read_frames(carphone_path(), limit=48)
    root = tmp_path_factory.mktemp("clips")
    (root / "real").mkdir()
    (root / "fake").mkdir()
    clips = {
        "real/carphone.mp4": frames,
        "real/dark.mp4": tint(frames, gain=0.7),
        "real/noise.mp4": noise_frames(24),
        "fake/bright.mp4": tint(frames, gain=1.3, offset=25),
        "fake/brighter.mp4": tint(frames, gain=1.4, offset=35),
    }
    out = {name: write_video(root / name, f, fps=25) for name, f in clips.items()}
    broken = root / "real" / "broken.mp4"
    broken.write_text("this is not a video\n")
    out["real/broken.mp4"] = broken
    return out


@pytest.fixture(scope="module")
def brightness_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runtime tests' plumbing model (p_fake rises with face brightness), centred on carphone.

    Not a detector: it makes the runtime's whole path produce scores this test can predict.
    """
    from realtime.crop import align_face
    from realtime.faces import FaceDetector
    from tests.media import carphone_path, read_frames
    from tests.realtime.fixture_model import build_plumbing_model, plumbing_meta, probe_feature

    meta = plumbing_meta()
    detector = FaceDetector("full")
    try:
        crops = [
            align_face(frame, detector(frame)[0].keypoints, meta.crop)
            for frame in read_frames(carphone_path(), limit=48)[::8]
        ]
    finally:
        detector.close()
    offset = float(probe_feature(meta, np.stack(crops)).mean())
    path = tmp_path_factory.mktemp("model") / "brightness.onnx"
    return build_plumbing_model(path, meta, gain=10.0, offset=offset)


def _write_manifest(clips: dict[str, Path], path: Path) -> Path:
    from training.manifest import make_row, write_manifest

    rows = []
    for name, file in clips.items():
        label = name.split("/")[0]
        rows.append(
            make_row(
                file,
                label=label,
                source="cam" if "noise" not in name else "screen",
                identity=file.stem,
                method="brightness",
            )
        )
    jpg = path.parent / "still.jpg"
    jpg.write_bytes(b"\xff\xd8\xff")
    rows.append(make_row(jpg, label="real", source="cam", identity="still"))
    rows = [replace(row, split="val" if i < len(rows) - 1 else "train") for i, row in enumerate(rows)]
    return write_manifest(rows, path)


def test_evaluate_verb_end_to_end(
    tmp_path: Path, face_clips: dict[str, Path], brightness_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from realtime.cli import main

    manifest = _write_manifest(face_clips, tmp_path / "m.csv")
    out_json, out_png = tmp_path / "report.json", tmp_path / "roc.png"
    code = main(
        [
            "evaluate",
            str(manifest),
            "--model",
            str(brightness_model),
            "--json",
            str(out_json),
            "--plot",
            str(out_png),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(out_json.read_text())
    # broken.mp4 skipped with one warning line; noise has no face: 0.5, listed; image not scored
    assert len(report["skipped"]) == 1 and report["skipped"][0]["path"].endswith("real/broken.mp4")
    assert "not a video" in report["skipped"][0]["reason"]
    assert sum("warning: skipped" in line for line in captured.err.splitlines()) == 1
    assert len(report["no_face"]) == 1 and report["no_face"][0].endswith("real/noise.mp4")
    assert report["n_videos"] == 5 and report["n_real"] == 3 and report["n_fake"] == 2
    assert report["images_not_scored"] == 1 and any("image" in n for n in report["notes"])
    # brighter faces score higher on this model: both fakes above every real
    assert report["video_auc"] == 1.0 and report["video_eer"] == 0.0 and report["video_ap"] == 1.0
    assert report["by_source"]["cam"]["video_auc"] == 1.0 and report["by_source"]["cam"]["n"] == 4
    assert report["by_source"]["screen"] == {
        "video_auc": None,
        "n": 1,
        "n_real": 1,
        "n_fake": 0,
        "real_fpr_at_threshold": 0.0,
    }
    assert report["by_method"]["brightness"]["n"] == 5
    assert report["frame_auc"] is not None and report["frame_auc"] > 0.95 and report["n_windows"] > 100
    assert report["model_version"] == "plumbing-fixture" and report["threshold"] == 0.65
    assert "video AUC 1.000" in captured.out and "cam" in captured.out
    import cv2

    assert cv2.imread(str(out_png)) is not None


def test_evaluate_verb_call_codec_and_split(
    tmp_path: Path, face_clips: dict[str, Path], brightness_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from realtime.cli import main

    clips = {
        k: v for k, v in face_clips.items() if k in ("real/dark.mp4", "real/carphone.mp4", "fake/bright.mp4")
    }
    manifest = _write_manifest(clips, tmp_path / "m.csv")
    out_json = tmp_path / "r.json"
    args = [
        "evaluate",
        str(manifest),
        "--model",
        str(brightness_model),
        "--json",
        str(out_json),
        "--no-progress",
        "--max-frames",
        "24",
        "--split",
        "val",
        "--call-codec",
    ]
    assert main(args) == 0, capsys.readouterr().err
    report = json.loads(out_json.read_text())
    assert report["call_codec"].startswith("h264 500 kbps")
    assert report["n_videos"] == 3 and report["images_not_scored"] == 0  # the image is in 'train'
    assert report["video_auc"] == 1.0
    assert not list(tmp_path.glob("**/*.mkv"))


def test_evaluate_verb_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from realtime.cli import main

    assert main(["evaluate", str(tmp_path / "none.csv")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: manifest not found")
    m = tmp_path / "m.csv"
    m.write_text("path,kind,label,source,identity,method,pair_id,split\na.mp4,video,real,s,i,none,,train\n")
    assert main(["evaluate", str(m), "--split", "val"]) == 2
    assert "no rows to evaluate (split=val)" in capsys.readouterr().err
    assert main(["evaluate", str(m), "--model", str(tmp_path / "missing.onnx"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing.onnx" in err[0]
