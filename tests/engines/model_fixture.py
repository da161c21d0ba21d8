"""A tiny CallShield ONNX model built with onnx.helper, for tests that need a real model file fast.

Torch-free on purpose: the runtime's tests (``tests/realtime``) can use it without paying for torch,
exactly as the live path never imports torch. It has the shipped model's interface (two independent
paths in one graph, metadata in ``metadata_props["callshield"]``) and arithmetic simple enough to
check against numpy: ``features = mean_hw(crops) @ W + b`` and ``logit = mean_t(window) @ v + c``.
"""

from __future__ import annotations

from dataclasses import dataclass
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
)
from realtime.crop import CropSpec


@dataclass
class FixtureWeights:
    w: np.ndarray  # (3, D)
    b: np.ndarray  # (D,)
    v: np.ndarray  # (D, 1)
    c: np.ndarray  # (1,)

    def encode(self, crops: np.ndarray) -> np.ndarray:
        return (crops.mean(axis=(2, 3)) @ self.w + self.b).astype(np.float32)

    def head(self, windows: np.ndarray) -> np.ndarray:
        return (windows.mean(axis=1) @ self.v + self.c)[:, 0].astype(np.float32)


def fixture_meta(size: int = 32, window: int = 4, feature_dim: int = 8) -> ModelMeta:
    return ModelMeta(
        model_version="fixture-0",
        crop=CropSpec(size=size),
        window=window,
        feature_dim=feature_dim,
        arch={"name": "fixture"},
        training_data="none (test fixture)",
    )


def build_fixture_onnx(
    path: str | Path, meta: ModelMeta | None = None, seed: int = 0, with_meta: bool = True
) -> tuple[Path, ModelMeta, FixtureWeights]:
    """Write the fixture model to ``path``; returns (path, meta, weights for a numpy reference)."""
    meta = meta or fixture_meta()
    rng = np.random.default_rng(seed)
    d, t, s = meta.feature_dim, meta.window, meta.crop.size
    wts = FixtureWeights(
        w=rng.normal(size=(3, d)).astype(np.float32),
        b=rng.normal(size=(d,)).astype(np.float32),
        v=rng.normal(size=(d, 1)).astype(np.float32),
        c=rng.normal(size=(1,)).astype(np.float32),
    )
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
        numpy_helper.from_array(wts.w, "W"),
        numpy_helper.from_array(wts.b, "b"),
        numpy_helper.from_array(wts.v, "v"),
        numpy_helper.from_array(wts.c, "c"),
        numpy_helper.from_array(np.array([1], np.int64), "sq_axes"),
    ]
    graph = helper.make_graph(
        nodes,
        "callshield_fixture",
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
    path = Path(path)
    onnx.save(model, str(path))
    return path, meta, wts
