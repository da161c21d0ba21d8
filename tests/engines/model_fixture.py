"""A tiny CallShield ONNX model built with onnx.helper, for tests that need a real model file fast.

Torch-free on purpose: the runtime's tests (``tests/realtime``) can use it without paying for torch,
exactly as the live path never imports torch. It has the shipped model's interface (two independent
paths in one graph, metadata in ``metadata_props["callshield"]``) and arithmetic simple enough to
check against numpy: ``features = mean_hw(crops) @ W + b`` and ``logit = mean_t(window) @ v + c``
(the graph itself is :func:`tests.onnx_fixture.write_linear_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.artifact import ModelMeta
from realtime.crop import CropSpec
from tests.onnx_fixture import write_linear_model


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
    d = meta.feature_dim
    wts = FixtureWeights(
        w=rng.normal(size=(3, d)).astype(np.float32),
        b=rng.normal(size=(d,)).astype(np.float32),
        v=rng.normal(size=(d, 1)).astype(np.float32),
        c=rng.normal(size=(1,)).astype(np.float32),
    )
    path = write_linear_model(path, meta, wts.w, wts.b, wts.v, wts.c, "callshield_fixture", with_meta)
    return path, meta, wts
