"""``callshield bench`` on the real pipeline (MediaPipe on carphone, ONNX Runtime on a real model).

No timing assertions (the machine is shared): the checks are that every stage was measured, the
numbers are internally consistent, and the faces the view promises are actually found.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from realtime.bench import STAGES, build_view, ping_pong, shared_real_clips
from realtime.cli import main
from realtime.sample_clip import sample_clip_path
from tests.engines.model_fixture import build_fixture_onnx, fixture_meta


@pytest.fixture(scope="module")
def bench_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _, _ = build_fixture_onnx(
        tmp_path_factory.mktemp("bench") / "m.onnx", fixture_meta(size=128, window=4, feature_dim=8)
    )
    return path


def test_quick_bench_writes_every_key_with_sane_values(
    bench_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", str(bench_model), "--frames", "10", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["frames"] == 10 and data["resolution"] == "640x480"
    assert data["fps"] > 0 and data["e2e_p99_ms"] > 0
    assert abs(data["fps"] - 1000.0 / data["e2e"]["mean_ms"]) < 0.05 * data["fps"]
    assert set(data["stages"]) == set(STAGES)
    for name, stats in data["stages"].items():
        assert 0 <= stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"], name
    for name in ("detect", "encode", "decode"):
        assert data["stages"][name]["p50_ms"] > 0, name  # real work was timed
    stage_sum = sum(s["mean_ms"] for k, s in data["stages"].items() if k != "decode")
    assert stage_sum <= data["e2e"]["mean_ms"] * 1.05  # stages are parts of the end-to-end time
    assert data["faces_mean"] == 1.0 and data["faces_min"] == 1  # carphone: one face in every frame
    # the default face search: one whole-frame pass a frame, a discovery tile every 15th, one id
    assert data["detect_tiles"] == "auto" and data["tracks_created"] == 1
    assert 1.0 <= data["detect_passes_mean"] <= 1.2 and data["detect_passes_max"] <= 2
    assert 50 < data["peak_rss_mb"] < 4096
    machine = data["machine"]
    assert machine["cores"] >= 1 and machine["cpu"]
    assert machine["provider"] == "CPUExecutionProvider"
    assert "CPUExecutionProvider" in machine["providers_available"]
    assert data["model"]["version"] == "fixture-0"
    printed = capsys.readouterr().out
    assert "encode" in printed and "fps" in printed


def test_gallery_view_without_shared_data_uses_distinct_carphone_copies(tmp_path: Path) -> None:
    view, decode_s = build_view(9, 20, real_root=tmp_path / "absent")
    assert decode_s > 0 and len(view.tiles) == 9
    frame = view.frame(3)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8
    tiles = [frame[r * 240 : (r + 1) * 240, c * 426 : (c + 1) * 426] for r in range(3) for c in range(3)]
    assert all(t.std() > 10 for t in tiles)  # every tile holds picture
    distinct = {t.tobytes() for t in tiles}
    assert len(distinct) == 9  # shifted in time and mirrored: no two tiles are the same image
    single, _ = build_view(1, 5)
    assert single.frame(0).shape == (480, 640, 3)


def test_gallery_finds_its_faces(
    bench_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g.json"
    assert (
        main(["bench", "--model", str(bench_model), "--faces", "4", "--frames", "3", "--json", str(out)]) == 0
    )
    data = json.loads(out.read_text())
    assert data["resolution"] == "1280x720" and data["faces_mean"] >= 3.5
    printed = capsys.readouterr().out
    assert "detector passes per frame" in printed and "track(s) started" in printed


def test_bad_source_is_one_error_line(
    bench_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "clip.mp4"
    junk.write_text("not a video")
    assert main(["bench", "--model", str(bench_model), "--source", str(junk), "--frames", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert main(["bench", "--model", str(tmp_path / "none.onnx")]) == 2


def test_helpers() -> None:
    assert [ping_pong(i, 4) for i in range(8)] == [0, 1, 2, 3, 2, 1, 0, 1]
    assert sample_clip_path().name == "carphone_pristine.mp4"
    assert shared_real_clips(root=Path("/nonexistent")) == []
