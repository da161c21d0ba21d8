"""Export matrix (every registered detector: export, load with the backends, run, compare), checkpoint
round trip, and the ``callshield export`` verb, on real PyTorch and ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="export needs PyTorch (pip install 'callshield[train]')")

from engines.artifact import ModelFileError, ModelMeta, read_onnx_meta  # noqa: E402
from engines.base import load_backend  # noqa: E402
from engines.export import CHECKPOINT_KEYS, ExportError, export_onnx, load_checkpoint, save_checkpoint  # noqa: E402
from engines.onnx_backend import OnnxBackend  # noqa: E402
from engines.torch_backend import TorchBackend  # noqa: E402
from realtime.cli import main  # noqa: E402
from realtime.crop import CropSpec  # noqa: E402
from training.models import DETECTORS, Detector, create_detector  # noqa: E402
from training.models.temporal import TemporalConvHead  # noqa: E402

SIZE, WINDOW, DIM = 64, 4, 32  # small: registry models accept any input size


def trained_like(name: str) -> Detector:
    """A detector whose BatchNorm statistics match its inputs, as after training.

    Freshly initialised BN (mean 0, var 1) lets activations shrink to ~1e-2, which would make a
    1e-4 parity check nearly vacuous; with matched statistics features are O(1).
    """
    torch.manual_seed(0)
    model = create_detector(name, feature_dim=DIM)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one batch sets the statistics exactly
    model.train()
    with torch.no_grad():
        model.encode(torch.randn(16, 3, SIZE, SIZE))
    return model.eval()


def small_meta() -> ModelMeta:
    return ModelMeta(model_version="test-export", crop=CropSpec(size=SIZE), window=WINDOW)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Detector, Path]]:
    out = tmp_path_factory.mktemp("export")
    result = {}
    for name in DETECTORS:
        model = trained_like(name)
        path = out / f"{name}.onnx"
        report = export_onnx(model, small_meta(), path)
        assert report.feature_max_abs_diff <= 1e-4 and report.logit_max_abs_diff <= 1e-4
        assert not model.training  # export must not leave the model in training mode
        result[name] = (model, path)
    return result


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_export_matrix_onnx_runtime_matches_pytorch(
    name: str, exported: dict[str, tuple[Detector, Path]]
) -> None:
    model, path = exported[name]
    meta = read_onnx_meta(path)
    assert (meta.crop.size, meta.window, meta.feature_dim, meta.model_version) == (
        SIZE,
        WINDOW,
        DIM,
        "test-export",
    )
    backend = load_backend(path)
    assert isinstance(backend, OnnxBackend)
    rng = np.random.default_rng(7)
    crops = rng.normal(size=(5, 3, SIZE, SIZE)).astype(np.float32)  # N=5 != export example's 2
    windows = rng.normal(size=(3, WINDOW, DIM)).astype(np.float32)
    with torch.no_grad():
        ref_feat = model.encode(torch.from_numpy(crops)).numpy()
        ref_logit = model.score_window(torch.from_numpy(windows)).numpy()
    assert ref_feat.std() > 0.05  # the check below is meaningful only on non-vanishing features
    feats = backend.encode(crops)
    assert feats.shape == (5, DIM)
    assert np.abs(feats - ref_feat).max() <= 1e-4
    logits = backend.head(windows)
    assert logits.shape == (3,)
    assert np.abs(logits - ref_logit).max() <= 1e-4
    # The head on the encoder's own features: the full path a track takes.
    track = backend.encode(crops[:WINDOW])[None]
    with torch.no_grad():
        ref = model.score_window(model.encode(torch.from_numpy(crops[:WINDOW]))[None]).numpy()
    assert np.abs(backend.head(track) - ref).max() <= 1e-4


def test_checkpoint_round_trip_and_torch_backend(
    tmp_path: Path, exported: dict[str, tuple[Detector, Path]]
) -> None:
    model, onnx_path = exported["mnv2_tconv"]
    config = {"model": {"name": "mnv2_tconv", "feature_dim": DIM, "window": WINDOW, "imagenet": ""}}
    ckpt = save_checkpoint(tmp_path / "ckpt.pt", model, config, small_meta(), step=12)
    raw = torch.load(str(ckpt), weights_only=True)
    assert set(CHECKPOINT_KEYS) <= set(raw) and raw["step"] == 12
    loaded = load_checkpoint(ckpt)
    assert loaded.meta.window == WINDOW and not loaded.model.training
    torch_backend = load_backend(ckpt)
    assert isinstance(torch_backend, TorchBackend) and torch_backend.provider == "cpu"
    onnx_backend = load_backend(onnx_path)
    crops = np.random.default_rng(3).normal(size=(2, 3, SIZE, SIZE)).astype(np.float32)
    assert np.abs(torch_backend.encode(crops) - onnx_backend.encode(crops)).max() <= 1e-4


def test_failed_self_test_leaves_nothing_behind(tmp_path: Path) -> None:
    # A small Detector (not from the registry) keeps this fast; export accepts any Detector.
    model = Detector(torch.nn.Conv2d(3, 4, 3), 4, TemporalConvHead(DIM), DIM).eval()
    target = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="disagrees"):
        export_onnx(model, small_meta(), target, atol=-1.0)  # no difference can pass a negative limit
    assert list(tmp_path.iterdir()) == []


def test_bad_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ModelFileError, match="not a readable CallShield checkpoint"):
        load_checkpoint(junk)
    partial = tmp_path / "partial.pt"
    torch.save({"model_state": {}}, str(partial))
    with pytest.raises(ModelFileError, match="needs keys"):
        load_checkpoint(partial)
    wrong = tmp_path / "wrong.pt"
    torch.save(
        {
            "config": {"model": {"name": "mnv2_tconv", "feature_dim": 8}},
            "model_state": {"x": torch.zeros(1)},
            "meta": small_meta().to_json(),
        },
        str(wrong),
    )
    with pytest.raises(ModelFileError, match="weights do not fit detector 'mnv2_tconv'"):
        load_checkpoint(wrong)


def test_export_verb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = trained_like("mnv2_tconv")
    ckpt = save_checkpoint(
        tmp_path / "run.pt", model, {"model": {"name": "mnv2_tconv", "feature_dim": DIM}}, small_meta()
    )
    out = tmp_path / "out" / "model.onnx"
    assert main(["export", str(ckpt), "--out", str(out), "--model-version", "v-test"]) == 0
    assert read_onnx_meta(out).model_version == "v-test"
    assert "max |diff|" in capsys.readouterr().out

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage")
    assert main(["export", str(junk), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "junk.pt" in err[0]
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
)
def test_torch_backend_on_cuda_matches_onnx_runtime_on_cpu(
    tmp_path: Path, exported: dict[str, tuple[Detector, Path]]
) -> None:
    model, onnx_path = exported["mnv2_tconv"]
    ckpt = save_checkpoint(
        tmp_path / "tconv.pt", model, {"model": {"name": "mnv2_tconv", "feature_dim": DIM}}, small_meta()
    )
    gpu = load_backend(ckpt, device="cuda")
    assert gpu.provider.startswith("cuda")
    cpu = load_backend(onnx_path)
    crops = np.random.default_rng(5).normal(size=(9, 3, SIZE, SIZE)).astype(np.float32)
    windows = np.random.default_rng(6).normal(size=(4, WINDOW, DIM)).astype(np.float32)
    assert np.abs(gpu.encode(crops) - cpu.encode(crops)).max() <= 1e-3  # TF32/cuDNN vs MLAS
    assert np.abs(gpu.head(windows) - cpu.head(windows)).max() <= 1e-3
