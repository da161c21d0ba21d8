"""Backend choice by name and by file suffix, and the errors for requests that cannot be met."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.artifact import ModelFileError
from engines.base import load_backend, resolve_backend_name
from engines.onnx_backend import OnnxBackend
from tests.engines.model_fixture import FixtureWeights


@pytest.mark.parametrize(
    ("filename", "backend", "expected"),
    [
        ("m.onnx", "auto", "onnxruntime"),
        ("m.ONNX", "auto", "onnxruntime"),
        ("ckpt.pt", "auto", "torch"),
        ("ckpt.pth", "auto", "torch"),
        ("m.engine", "auto", "tensorrt"),
        ("m.plan", "auto", "tensorrt"),
        ("m.onnx", "trt", "tensorrt"),
        ("m.bin", "ort", "onnxruntime"),
        ("m.onnx", "pytorch", "torch"),
    ],
)
def test_backend_resolved_by_name_or_suffix(filename: str, backend: str, expected: str) -> None:
    assert resolve_backend_name(Path(filename), backend) == expected


def test_unknown_suffix_and_name_are_clear_errors() -> None:
    with pytest.raises(ModelFileError, match="cannot tell the backend"):
        resolve_backend_name(Path("model.tflite"))
    with pytest.raises(ModelFileError, match="unknown backend 'openvino'"):
        resolve_backend_name(Path("model.onnx"), "openvino")


def test_load_backend_by_suffix_runs_the_model(fixture_model: tuple[Path, FixtureWeights]) -> None:
    backend = load_backend(fixture_model[0])
    assert isinstance(backend, OnnxBackend)
    assert backend.name == "onnxruntime"


def test_load_backend_errors(tmp_path: Path, fixture_model: tuple[Path, FixtureWeights]) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        load_backend(tmp_path / "nope.onnx")
    with pytest.raises(ModelFileError, match="unknown device 'tpu'"):
        load_backend(fixture_model[0], device="tpu")
