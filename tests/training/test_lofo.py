"""The leave-one-family-out benchmark: its folds, its table, and one real fold on tiny footage."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from realtime.errors import UserError
from training.families import FAMILIES
from training.lofo import SCORED_WINDOWS, Fold, all_folds, format_table, parse_folds, summarise, window_span

CONFIG = Path(__file__).resolve().parents[2] / "training" / "configs" / "callshield_v5.yaml"


def _videos(fakes: list[float], reals: list[float], family: str) -> list[dict[str, object]]:
    return [{"path": f"f{i}", "label": "fake", "family": family, "score": s} for i, s in enumerate(fakes)] + [
        {"path": f"r{i}", "label": "real", "family": None, "score": s} for i, s in enumerate(reals)
    ]


def test_the_method_folds_then_every_family_once_then_the_identity_folds() -> None:
    folds = all_folds()
    assert [f.name for f in folds[:3]] == ["method0", "method1", "method2"]
    assert [f.family for f in folds[3 : 3 + len(FAMILIES)]] == list(FAMILIES)
    # real identity folds rotate with the method fold and with the family
    assert [f.k for f in folds] == [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 2]
    assert [f.name for f in folds[3 + len(FAMILIES) :]] == ["identity0", "identity1", "identity2"]
    assert Fold("lip_sync", 0).overrides(Path("o"))[-1] == "data.holdout_family=lip_sync"
    assert "data.holdout_method_fold=2" in Fold(None, 2, methods=True).overrides(Path("o"))
    assert "data.holdout_method_fold=-1" in Fold("lip_sync", 0).overrides(Path("o"))
    assert parse_folds("animation,identity1") == [Fold("animation", 1), Fold(None, 1)]
    assert [f.name for f in parse_folds("method,identity0")] == ["method0", "method1", "method2", "identity0"]
    assert len(parse_folds(None)) == 11
    with pytest.raises(UserError, match="unknown fold cartoons"):
        parse_folds("cartoons")


def test_scored_windows_are_runs_of_consecutive_crops_spread_over_the_clip() -> None:
    """The window head sees what the runtime gives it: consecutive crops, not a sparse sample."""
    span = window_span(150, 8)
    assert span.shape == (SCORED_WINDOWS, 8)
    assert (np.diff(span, axis=1) == 1).all()
    assert span[0, 0] == 0 and span[-1, -1] == 149
    assert window_span(10, 8).shape == (3, 8)  # only 3 distinct starts fit
    assert window_span(5, 8).tolist() == [[0, 1, 2, 3, 4]]  # shorter than a window: all of it


def _shifted(videos: list[dict[str, object]], heavy: float) -> list[dict[str, object]]:
    """Videos scored through compression too: every score moved by ``heavy`` (clipped)."""
    for v in videos:
        score = float(v["score"])  # type: ignore[arg-type]
        v["shifted"] = {"heavy": min(1.0, max(0.0, score + heavy)), "call": score}
    return videos


def test_the_method_table_has_each_method_its_mean_its_worst_and_the_compression_shift() -> None:
    videos = _videos([0.9, 0.3], [0.1, 0.2, 0.5], "academic")
    videos[0]["method"], videos[1]["method"] = "academic/a", "academic/b"
    other = _videos([0.8], [0.1], "lip_sync")
    other[0]["method"] = "lip_sync/w"
    results = [
        {"fold": "method0", "kind": "method", "family": None, "videos": _shifted(videos, -0.5)},
        {"fold": "method1", "kind": "method", "family": None, "videos": _shifted(other, 0.0)},
    ]
    summary = summarise(results)
    assert summary["method_auc"] == {"academic/a": 1.0, "academic/b": pytest.approx(2 / 3), "lip_sync/w": 1.0}
    assert summary["worst_method"] == "academic/b" and summary["lomo_mean"] == pytest.approx(8 / 9)
    assert summary["method_family_mean"] == {"academic": pytest.approx(5 / 6), "lip_sync": 1.0}
    assert summary["lomo_shift_mean"]["call"] == pytest.approx(8 / 9)  # unmoved: the same AUCs
    # academic/b, pushed to 0 with every real of its fold, is a tie: 0.5
    assert summary["lomo_shift_mean"]["heavy"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert summary["real_shift"]["heavy"]["fake"] < summary["real_shift"]["heavy"]["real"] < 0
    table = format_table(results, summary)
    assert "academic/b" in table and "worst 0.667 (academic/b)" in table


def test_the_table_has_each_family_its_mean_and_its_worst() -> None:
    results = [
        {"fold": "live_swap", "family": "live_swap", "videos": _videos([0.9, 0.8], [0.1, 0.2], "live_swap")},
        {"fold": "lip_sync", "family": "lip_sync", "videos": _videos([0.3, 0.15], [0.1, 0.2], "lip_sync")},
        {"fold": "identity0", "family": None, "videos": _videos([0.6], [0.4, 0.7], "academic")},
    ]
    summary = summarise(results)
    assert summary["family_auc"] == {"live_swap": 1.0, "lip_sync": 0.75}
    assert summary["lofo_mean"] == pytest.approx(0.875) and summary["worst_family"] == "lip_sync"
    assert summary["identity_auc"] == {"identity0": 0.5}
    table = format_table(results, summary)
    assert "lip_sync" in table and "mean 0.875, worst 0.750 (lip_sync)" in table


@pytest.fixture(scope="module")
def family_manifest(tiny_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny footage laid out like ../shared/data: three lip-sync and three live-swap pairs, a photo."""
    root = tmp_path_factory.mktemp("families")
    src = tiny_manifest.parent
    rows = []
    for k in range(3):
        for label, name in (("real", "real.mp4"), ("fake", "fake.mp4")):
            path = f"talking/tiny/{label}/p{k}.mp4"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src / name, root / path)
            method = "wav2lip" if label == "fake" else "none"
            rows.append((path, "video", label, "tiny", f"person{k}", method, f"tiny{k}", "train"))
        for label, name, method in (("real", "real.mp4", "none"), ("fake", "fake_b.mp4", "deepfacelive")):
            path = f"deepfacelive/{label}/x{k}.mp4"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src / name, root / path)
            rows.append((path, "video", label, "deepfacelive", f"Celeb{k}", method, f"dfl_x{k}", "train"))
    (root / "real/lfw").mkdir(parents=True)
    shutil.copy(src / "still.jpg", root / "real/lfw/a.jpg")
    rows.append(("real/lfw/a.jpg", "image", "real", "lfw", "A_Person", "none", "", "train"))
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "kind", "label", "source", "identity", "method", "pair_id", "split"])
        writer.writerows(rows)
    return manifest


def _tiny_fold_overrides(manifest: Path, tmp_path: Path) -> list[str]:
    """A fold on the tiny footage: two steps of four crops, a cache of its own, no ImageNet weights."""
    from tests.training.tiny import N_FRAMES

    return [
        f"data.manifest={manifest}",
        f"data.cache_dir={tmp_path / 'cache'}",
        f"data.max_frames={N_FRAMES}",
        f"data.call_max_frames={N_FRAMES}",
        "data.exclude_multi_face_fakes=",
        "model.imagenet=",
        "encoder.steps=2",
        "encoder.batch=4",
        "threads=1",
    ]


def test_a_family_fold_trains_without_the_family_and_scores_it_unseen(
    family_manifest: Path, tmp_path: Path
) -> None:
    from engines.export import load_checkpoint
    from training.lofo import run_benchmark

    overrides = _tiny_fold_overrides(family_manifest, tmp_path)
    out = tmp_path / "lofo"
    report = run_benchmark(str(CONFIG), overrides, out, [Fold("lip_sync", 0)])
    (fold,) = report["folds"]
    fakes = [v for v in fold["videos"] if v["label"] == "fake"]
    reals = [v for v in fold["videos"] if v["label"] == "real"]
    assert len(fakes) == 3 and {v["family"] for v in fakes} == {"lip_sync"}  # every lip-sync fake, unseen
    assert reals and all(0.0 <= v["score"] <= 1.0 for v in fold["videos"])
    # the footage the lip-sync fakes were made of is unseen too, and scored among the reals
    assert {f"talking/tiny/real/p{k}.mp4" for k in range(3)} <= {v["path"] for v in reals}
    assert np.isfinite(report["summary"]["lofo_mean"]) and (out / "lofo.json").is_file()
    model = out / "lip_sync" / "model.pt"
    assert "without the lip_sync family" in load_checkpoint(model).meta.training_data
    stamp = model.stat().st_mtime_ns
    run_benchmark(str(CONFIG), overrides, out, [Fold("lip_sync", 0)])  # a finished fold is reused
    assert model.stat().st_mtime_ns == stamp


def test_a_method_fold_scores_its_methods_unseen_clean_and_through_compression(
    family_manifest: Path, tmp_path: Path
) -> None:
    from training.clips import method_fold_of
    from training.lofo import run_benchmark
    from training.manifest import read_manifest

    overrides = _tiny_fold_overrides(family_manifest, tmp_path)
    fold_of = method_fold_of(read_manifest(family_manifest), 3)
    held = {unit for unit, k in fold_of.items() if k == 1}
    report = run_benchmark(str(CONFIG), overrides, tmp_path / "lomo", [Fold(None, 1, methods=True)])
    (fold,) = report["folds"]
    fakes = [v for v in fold["videos"] if v["label"] == "fake"]
    assert fakes and {v["method"] for v in fakes} == held  # exactly the methods dealt to fold 1
    for v in fold["videos"]:
        assert set(v["shifted"]) == {"heavy", "call"} and all(0.0 <= s <= 1.0 for s in v["shifted"].values())
    summary = report["summary"]
    assert set(summary["method_auc"]) == held and np.isfinite(summary["lomo_shift_mean"]["heavy"])
