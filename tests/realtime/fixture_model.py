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

from engines.artifact import ModelMeta, Thresholds
from realtime.crop import CropSpec
from tests.onnx_fixture import write_linear_model


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
    d = meta.feature_dim
    w = rng.normal(scale=0.1, size=(3, d)).astype(np.float32)
    w[:, 0] = 1.0 / 3.0
    b = np.zeros(d, np.float32)
    v = np.zeros((d, 1), np.float32)
    v[0, 0] = gain
    c = np.array([-gain * offset], np.float32)
    return write_linear_model(path, meta, w, b, v, c, "plumbing_fixture", with_meta)


def probe_feature(meta: ModelMeta, crops_rgb: np.ndarray) -> np.ndarray:
    """What the fixture's feature 0 is for uint8 ``(N, S, S, 3)`` crops (to place ``offset``)."""
    return meta.normalise(crops_rgb).mean(axis=(1, 2, 3))
