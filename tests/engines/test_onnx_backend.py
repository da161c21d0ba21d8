"""ONNX Runtime backend on a real (tiny) ONNX model: arithmetic, providers, and bad files."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from engines.artifact import ModelFileError
from engines.onnx_backend import CUDA, OnnxBackend, ProviderUnavailable
from tests.engines.model_fixture import FixtureWeights, build_fixture_onnx, fixture_meta

REPO = Path(__file__).resolve().parents[2]


def test_encode_and_head_match_numpy_for_any_batch(fixture_model: tuple[Path, FixtureWeights]) -> None:
    path, ref = fixture_model
    backend = OnnxBackend.load(path)
    rng = np.random.default_rng(1)
    for n in (1, 3, 9):
        crops = rng.normal(size=(n, 3, 32, 32)).astype(np.float32)
        feats = backend.encode(crops)
        assert feats.shape == (n, 8) and feats.dtype == np.float32
        np.testing.assert_allclose(feats, ref.encode(crops), atol=1e-5)
        np.testing.assert_allclose(backend(crops), feats)
    for b in (1, 5):
        windows = rng.normal(size=(b, 4, 8)).astype(np.float32)
        logits = backend.head(windows)
        assert logits.shape == (b,) and logits.dtype == np.float32
        np.testing.assert_allclose(logits, ref.head(windows), atol=1e-5)
    assert backend.encode(np.zeros((0, 3, 32, 32), np.float32)).shape == (0, 8)
    assert backend.head(np.zeros((0, 4, 8), np.float32)).shape == (0,)


def test_reports_the_provider_it_really_got(fixture_model: tuple[Path, FixtureWeights]) -> None:
    backend = OnnxBackend.load(fixture_model[0])
    assert backend.provider == "CPUExecutionProvider"
    assert backend.meta.model_version == "fixture-0"
    backend.warmup()


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="CUDA provider is available here")
def test_gpu_request_without_gpu_warns_or_raises_when_strict(
    fixture_model: tuple[Path, FixtureWeights], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="engines.onnx_backend"):
        backend = OnnxBackend.load(fixture_model[0], device="cuda")
    assert backend.provider == "CPUExecutionProvider"
    assert backend.requested[0] == CUDA
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "CUDAExecutionProvider" in warnings[0] and "CPU" in warnings[0]
    with pytest.raises(ProviderUnavailable, match="CUDAExecutionProvider"):
        OnnxBackend.load(fixture_model[0], device="cuda", strict=True)


def test_wrong_array_shapes_are_rejected(fixture_model: tuple[Path, FixtureWeights]) -> None:
    backend = OnnxBackend.load(fixture_model[0])
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        backend.encode(np.zeros((1, 3, 64, 64), np.float32))
    with pytest.raises(ValueError, match=r"\(B, 4, 8\)"):
        backend.head(np.zeros((1, 5, 8), np.float32))


def test_not_onnx_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    with pytest.raises(ModelFileError, match="not a readable ONNX model"):
        OnnxBackend.load(bad)
    with pytest.raises(ModelFileError, match="not found"):
        OnnxBackend.load(tmp_path / "missing.onnx")


def test_onnx_without_callshield_metadata_is_rejected(tmp_path: Path) -> None:
    path, _, _ = build_fixture_onnx(tmp_path / "plain.onnx", with_meta=False)
    with pytest.raises(ModelFileError, match="not a CallShield model"):
        OnnxBackend.load(path)


def test_graph_that_disagrees_with_its_metadata_is_rejected(tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    path, _, _ = build_fixture_onnx(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    lying = fixture_meta(size=64)  # graph takes 32 px crops
    del model.metadata_props[:]
    helper.set_model_props(model, {"callshield": lying.to_json()})
    onnx.save(model, str(path))
    with pytest.raises(ModelFileError, match=r"input 'crops' has shape \['N', 3, 32, 32\]"):
        OnnxBackend.load(path)


def test_runtime_path_never_imports_torch(fixture_model: tuple[Path, FixtureWeights]) -> None:
    code = (
        "import sys, numpy as np, engines\n"
        f"b = engines.load_backend({str(fixture_model[0])!r})\n"
        "b.warmup()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(b.provider)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "CPUExecutionProvider"
