"""`callshield train` end to end on a tiny manifest made from real face video.

The fixture: carphone (real) and the project's own self-blended manipulation of it (fake), plus a
still. Two encoder steps and a few head steps: this checks the whole recipe runs (crop cache, call
degradation, DANN, self-blending, head, calibration, checkpoint, resume, ONNX export), not accuracy.
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

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"
CONFIG = CONFIGS / "callshield_v1.yaml"  # the previous recipe: DANN, learned head, AltFreezing
SHIPPED = CONFIGS / "callshield_v3.yaml"  # the shipped model's recipe


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


def test_train_resume_and_export(tiny_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = [
        *tiny_run_overrides(tiny_manifest, tmp_path, out),
        "encoder.target_batch=2",
        "encoder.warmup=1",
        "head.steps=3",
        "head.batch=8",
        "head.sbi_clips_per_real=1",
        "checkpoint_every=1",
        "altfreeze.rounds=1",  # AltFreezing: one round of head-frozen clips, then encoder-frozen head
        "altfreeze.encoder_steps=1",
        "altfreeze.head_steps=2",
        "altfreeze.clip_batch=2",
    ]
    assert main(["train", str(CONFIG), *overrides]) == 0
    onnx_path = out / "model.onnx"
    assert (out / "model.pt").is_file() and onnx_path.is_file()
    assert (out / "tb").is_dir()  # TensorBoard logs
    backend = load_backend(onnx_path)
    assert backend.meta.window == 4 and backend.meta.stride == 2
    feats = backend.encode(np.zeros((2, 3, 128, 128), np.float32))
    assert feats.shape == (2, backend.meta.feature_dim)
    assert backend.head(np.repeat(feats[:1, None], 4, axis=1)).shape == (1,)
    # model selection on held-out train identities runs on the checkpoint (here: every identity held out)
    from engines.export import load_checkpoint
    from training.config import load_config
    from training.heldout import score_heldout

    model = load_checkpoint(out / "model.pt").model
    held = score_heldout(model, load_config(CONFIG, [*overrides, "data.calib_fraction=1"]))
    assert sorted(s.label for s in held) == [0, 1, 1]
    assert all(0.0 <= s.head <= 1.0 and 0.0 <= s.frame <= 1.0 for s in held)
    before = onnx_path.stat().st_mtime_ns
    # resuming a finished run trains nothing more and exports again
    assert main(["train", str(CONFIG), *overrides, "--resume"]) == 0
    assert onnx_path.stat().st_mtime_ns >= before


def test_shipped_recipe_trains_and_exports_a_pooling_head(tiny_manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = [*tiny_run_overrides(tiny_manifest, tmp_path, out), "encoder.warmup=1"]
    assert main(["train", str(SHIPPED), *overrides]) == 0
    backend = load_backend(out / "model.onnx")
    assert backend.meta.model_version == "callshield-v3"
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


@pytest.mark.parametrize(("keep", "message"), [("fake", "no real training videos")])
def test_train_without_usable_material_is_one_error_line(
    tiny_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: str, message: str
) -> None:
    header, *rows = tiny_manifest.read_text().splitlines()
    subset = tiny_manifest.parent / f"only_{keep}.csv"
    subset.write_text("\n".join([header, *(r for r in rows if f",{keep}," in r)]) + "\n")
    argv = ["train", str(CONFIG), f"data.manifest={subset}", f"data.cache_dir={tmp_path / 'cache'}"]
    argv += [f"out_dir={tmp_path / 'run'}", f"data.max_frames={N_FRAMES}", f"data.call_max_frames={N_FRAMES}"]
    code = main([*argv, "data.calib_fraction=0", "model.imagenet="])
    err = capsys.readouterr().err
    assert code != 0 and err.count("error:") == 1 and message in err


def test_identity_adversary_trains_on_the_fakes_face_models(tiny_manifest: Path, tmp_path: Path) -> None:
    """``encoder.identity_adv_weight`` adds a face-model classification loss over the fakes."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    overrides = [*tiny_run_overrides(tiny_manifest, tmp_path, out), "encoder.steps=3", "encoder.batch=8"]
    assert main(["train", str(SHIPPED), *overrides, "encoder.identity_adv_weight=0.5"]) == 0
    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    losses = [e.value for e in events.Scalars("encoder/identity_loss")]
    assert len(losses) == 3 and all(v > 0 for v in losses)  # two face models: cross-entropy > 0


def test_linear_probe_trains_the_head_and_leaves_the_trunk_as_it_was(
    tiny_manifest: Path, tmp_path: Path
) -> None:
    """LP-FT's first stage: only the projection and frame classifier move, and the trunk's
    BatchNorm statistics are not updated by the probe's batches."""
    import torch

    from training.config import load_config
    from training.models.registry import create_detector
    from training.train import load_data, probe_linear_head, seed_everything, setup_runtime

    out = tmp_path / "probe"
    overrides = [*tiny_run_overrides(tiny_manifest, tmp_path, out), "encoder.probe_steps=3"]
    cfg = load_config(SHIPPED, [*overrides, "encoder.probe_lr=0.05", "threads=1"])
    rt = setup_runtime(cfg, out)
    rng = seed_everything(cfg.seed)
    groups, _, pair_reals = load_data(cfg, rt)
    model = create_detector(cfg.model.name, feature_dim=cfg.model.feature_dim)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    probe_linear_head(cfg, rt, model, groups, {c.row.pair_id: c for c in pair_reals}, rng)
    after = model.state_dict()
    trunk_keys = [k for k in before if k.startswith("trunk.")]
    assert any("running_mean" in k for k in trunk_keys)
    assert all(torch.equal(before[k], after[k]) for k in trunk_keys)
    assert not torch.equal(before["frame_classifier.weight"], after["frame_classifier.weight"])
    assert not torch.equal(before["project.1.weight"], after["project.1.weight"])


def test_rendered_pseudo_fakes_train_a_renderer_and_reuse_it(tiny_manifest: Path, tmp_path: Path) -> None:
    """``encoder.render_fraction`` trains the face autoencoder on the run's real crops, keeps it in
    the run folder, and a later run given it as ``encoder.renderer`` trains with it."""
    out = tmp_path / "run"
    overrides = [*tiny_run_overrides(tiny_manifest, tmp_path, out), "encoder.steps=2", "encoder.batch=8"]
    render = ["encoder.render_fraction=0.5", "encoder.render_steps=2"]
    assert main(["train", str(SHIPPED), *overrides, *render]) == 0
    renderer = out / "renderer.pt"
    assert renderer.is_file() and (out / "model.onnx").is_file()
    again = tmp_path / "again"
    reuse = [*tiny_run_overrides(tiny_manifest, tmp_path, again), "encoder.steps=2", "encoder.batch=8"]
    assert main(["train", str(SHIPPED), *reuse, *render, f"encoder.renderer={renderer}"]) == 0
    assert not (again / "renderer.pt").exists()  # given, not trained again


def test_a_missing_renderer_is_one_error_line(
    tiny_manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", str(SHIPPED), f"data.manifest={tiny_manifest}", "encoder.render_fraction=0.3"]
    code = main([*argv, f"encoder.renderer={tmp_path / 'nope.pt'}", f"out_dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("error:") == 1 and "renderer not found" in err
    assert not (tmp_path / "run").exists()  # refused before anything is written
