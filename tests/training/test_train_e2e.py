"""`callshield train` end to end on a tiny manifest made from real face video.

The fixture: carphone (real) and the project's own self-blended manipulation of it (fake), plus a
still. A few encoder steps and head steps: this checks the whole recipe runs (crop cache, family
sampling, self-blending, source pairing, compression and its adversary, a learned head,
checkpoint, resume, ONNX export), not accuracy. Calibration on held-out identities, through the
call codec, runs in the leave-one-family-out test (test_lofo.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from engines import load_backend  # noqa: E402
from realtime.cli import main  # noqa: E402
from realtime.crop import CropSpec  # noqa: E402
from tests.training.tiny import N_FRAMES, tiny_run_overrides  # noqa: E402
from training.cache import CacheSpec, build_cache  # noqa: E402
from training.manifest import read_manifest  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "training" / "configs" / "callshield_v5.yaml"


def test_crop_cache_is_resumable_and_atomic(tiny_manifest: Path, tmp_path: Path) -> None:
    rows = read_manifest(tiny_manifest)
    spec = CacheSpec(crop=CropSpec(), max_frames=N_FRAMES)
    first = build_cache(rows, spec, tmp_path, progress=False)
    assert set(first) == {r.path for r in rows}
    mtimes = {p: p.stat().st_mtime_ns for p in first.values()}
    second = build_cache(rows, spec, tmp_path, progress=False)
    assert second == first
    assert {p: p.stat().st_mtime_ns for p in second.values()} == mtimes  # nothing decoded again
    assert not list(tmp_path.glob("*.tmp*"))
    with np.load(first["real.mp4"]) as data:
        assert data["crops"].shape[1:] == (128, 128, 3)
        assert data["mesh"].shape[1:] == (468, 2)  # real clips carry landmarks for self-blending
        assert len(data["crops"]) == N_FRAMES // 2  # every 2nd frame


def test_every_part_of_the_recipe_trains_resumes_and_exports(tiny_manifest: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    overrides = [
        *tiny_run_overrides(tiny_manifest, tmp_path, out),
        "encoder.steps=3",
        "encoder.batch=8",
        "encoder.warmup=1",
        "encoder.sbi_fraction=0.5",
        "encoder.source_pairing=1",
        "encoder.augment=1",
        "encoder.compress=1",
        "encoder.dann_weight=0.5",
        "model.name=mnv2_tconv",  # a learned head: stage 2 trains it on encoded clips
        "head.steps=3",
        "head.batch=8",
        "checkpoint_every=1",
    ]
    assert main(["train", str(CONFIG), *overrides]) == 0
    onnx_path = out / "model.onnx"
    assert (out / "model.pt").is_file() and onnx_path.is_file()
    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    domain = [e.value for e in events.Scalars("encoder/domain_loss")]
    assert len(domain) == 3 and all(v > 0 for v in domain)  # the compression adversary trained
    assert len(events.Scalars("head/loss")) == 1  # logged every 50 steps: step 0
    backend = load_backend(onnx_path)
    assert backend.meta.window == 4 and backend.meta.stride == 2
    feats = backend.encode(np.zeros((2, 3, 128, 128), np.float32))
    assert feats.shape == (2, backend.meta.feature_dim)
    assert backend.head(np.repeat(feats[:1, None], 4, axis=1)).shape == (1,)
    before = onnx_path.stat().st_mtime_ns
    # resuming a finished run trains nothing more and exports again
    assert main(["train", str(CONFIG), *overrides, "--resume"]) == 0
    assert onnx_path.stat().st_mtime_ns >= before


def test_shipped_recipe_trains_and_exports_a_pooling_head(tiny_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = [*tiny_run_overrides(tiny_manifest, tmp_path, out), "encoder.warmup=1"]
    assert main(["train", str(CONFIG), *overrides]) == 0
    backend = load_backend(out / "model.onnx")
    assert backend.meta.model_version == "callshield-v5"
    rng = np.random.default_rng(0)
    feats = backend.encode(rng.normal(size=(4, 3, 128, 128)).astype(np.float32))
    window_logit = backend.head(feats[None])[0]
    # the exported head pools: a window's logit is the mean of its frames' own logits
    frame_logits = [backend.head(np.repeat(feats[t : t + 1, None], 4, axis=1))[0] for t in range(4)]
    assert abs(window_logit - float(np.mean(frame_logits))) < 1e-4
    assert np.ptp(frame_logits) > 0  # the frames differ, so this checks pooling, not a constant


def test_train_reports_missing_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", str(CONFIG), f"data.manifest={tmp_path / 'nope.csv'}"])
    assert code != 0
    assert "manifest not found" in capsys.readouterr().err


def test_train_without_real_videos_is_one_error_line(
    tiny_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header, *rows = tiny_manifest.read_text().splitlines()
    subset = tiny_manifest.parent / "only_fake.csv"
    subset.write_text("\n".join([header, *(r for r in rows if ",fake," in r)]) + "\n")
    argv = ["train", str(CONFIG), f"data.manifest={subset}", f"data.cache_dir={tmp_path / 'cache'}"]
    argv += [f"out_dir={tmp_path / 'run'}", f"data.max_frames={N_FRAMES}", f"data.call_max_frames={N_FRAMES}"]
    code = main([*argv, "data.calib_fraction=0", "model.imagenet="])
    err = capsys.readouterr().err
    assert code != 0 and err.count("error:") == 1 and "no real training videos" in err


def test_missing_imagenet_weights_are_one_error_line_before_any_work(
    tiny_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped config names ImageNet weights in ~/.cache: without them, say how to get them."""
    argv = ["train", str(CONFIG), f"data.manifest={tiny_manifest}", f"model.imagenet={tmp_path / 'none.pth'}"]
    code = main([*argv, f"out_dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("error:") == 1 and "ImageNet weights not found" in err
    assert not (tmp_path / "run").exists()  # refused before anything is written
