"""A plumbing model for the runtime's tests: real ONNX, real ONNX Runtime, trivially known arithmetic.

NOT a detector. Its "p_fake" is a function of how bright the face crop is:
``features[:, 0] = mean(normalised crop)`` (other features random), and
``logit = gain * (mean_t features[:, 0] - offset)``. That makes the whole runtime path (detect,
track, align, one batched encode, windows, one batched head, calibration, hysteresis, verdicts)
testable end to end with outcomes the test can predict: a brightened clip scores "fake", a
darkened one "real". Nothing here says anything about deepfakes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engines.artifact import (
    ENCODER_INPUT,
    ENCODER_OUTPUT,
    HEAD_INPUT,
    HEAD_OUTPUT,
    METADATA_KEY,
    ModelMeta,
    Thresholds,
)
from realtime.crop import CropSpec


def plumbing_meta(
    window: int = 8, stride: int = 1, feature_dim: int = 16, size: int = 128, temperature: float = 1.0
) -> ModelMeta:
    return ModelMeta(
        model_version="plumbing-fixture",
        crop=CropSpec(size=size, scale=1.1),
        window=window,
        stride=stride,
        feature_dim=feature_dim,
        temperature=temperature,
        thresholds=Thresholds(real=0.35, suspicious=0.5, fake=0.65),
        arch={"name": "brightness-probe (test fixture, not a detector)"},
        training_data="none",
    )


def build_plumbing_model(
    path: Path,
    meta: ModelMeta | None = None,
    gain: float = 10.0,
    offset: float = 0.0,
    with_meta: bool = True,
    seed: int = 0,
) -> Path:
    meta = meta or plumbing_meta()
    rng = np.random.default_rng(seed)
    d, t, s = meta.feature_dim, meta.window, meta.crop.size
    w = rng.normal(scale=0.1, size=(3, d)).astype(np.float32)
    w[:, 0] = 1.0 / 3.0
    b = np.zeros(d, np.float32)
    v = np.zeros((d, 1), np.float32)
    v[0, 0] = gain
    c = np.array([-gain * offset], np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", [ENCODER_INPUT], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["proj"]),
        helper.make_node("Add", ["proj", "b"], [ENCODER_OUTPUT]),
        helper.make_node("ReduceMean", [HEAD_INPUT], ["tmean"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["tmean", "v"], ["score"]),
        helper.make_node("Add", ["score", "c"], ["score_b"]),
        helper.make_node("Squeeze", ["score_b", "sq_axes"], [HEAD_OUTPUT]),
    ]
    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(v, "v"),
        numpy_helper.from_array(c, "c"),
        numpy_helper.from_array(np.array([1], np.int64), "sq_axes"),
    ]
    graph = helper.make_graph(
        nodes,
        "plumbing_fixture",
        [
            helper.make_tensor_value_info(ENCODER_INPUT, TensorProto.FLOAT, ["N", 3, s, s]),
            helper.make_tensor_value_info(HEAD_INPUT, TensorProto.FLOAT, ["B", t, d]),
        ],
        [
            helper.make_tensor_value_info(ENCODER_OUTPUT, TensorProto.FLOAT, ["N", d]),
            helper.make_tensor_value_info(HEAD_OUTPUT, TensorProto.FLOAT, ["B"]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if with_meta:
        helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def probe_feature(meta: ModelMeta, crops_rgb: np.ndarray) -> np.ndarray:
    """What the fixture's feature 0 is for uint8 ``(N, S, S, 3)`` crops (to place ``offset``)."""
    return meta.normalise(crops_rgb).mean(axis=(1, 2, 3))
