"""The CallShield model artifact: what a model file must carry besides its weights.

The metadata travels inside the ONNX file (``metadata_props["callshield"]``, a JSON object), so a
model can never be used with the wrong crop, window or threshold (DESIGN.md, "Model artifact").
One ONNX graph holds two independent paths that share nothing:

* ``crops`` ``(N, 3, S, S)`` float32, normalised -> ``features`` ``(N, D)``: the per-frame encoder,
  run once per new face crop;
* ``window`` ``(B, T, D)`` float32 -> ``logit`` ``(B,)``: the temporal head over a track's last T
  features (logit > 0 means fake).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from realtime.crop import CropSpec

FORMAT_NAME = "callshield-detector"
FORMAT_VERSION = 1
METADATA_KEY = "callshield"
ENCODER_INPUT, ENCODER_OUTPUT = "crops", "features"
HEAD_INPUT, HEAD_OUTPUT = "window", "logit"


class ModelFileError(Exception):
    """A model file that is missing, unreadable, or not a CallShield model."""


@dataclass
class Thresholds:
    """Decision thresholds on the calibrated p_fake.

    ``real``: at or below, a face is called real; ``fake``: at or above, fake; ``suspicious``:
    the live gauge's warning level. Between real and fake a verdict is ``uncertain``.
    """

    real: float = 0.35
    suspicious: float = 0.5
    fake: float = 0.65


@dataclass
class ModelMeta:
    """Everything the runtime needs to use a model the way it was trained."""

    model_version: str
    crop: CropSpec = field(default_factory=CropSpec)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    window: int = 8
    stride: int = 1
    feature_dim: int = 128
    temperature: float = 1.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    arch: dict[str, Any] = field(default_factory=dict)
    training_data: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        data["crop"] = self.crop.to_dict()
        return json.dumps(data, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> ModelMeta:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"model metadata is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ModelFileError("not a CallShield model (metadata format missing)")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelFileError(
                f"model format version {data['format_version']} is newer than this CallShield "
                f"understands ({FORMAT_VERSION}); upgrade callshield"
            )
        try:
            data["crop"] = CropSpec.from_dict(data["crop"])
            data["thresholds"] = Thresholds(**data["thresholds"])
            data["mean"] = tuple(data["mean"])
            data["std"] = tuple(data["std"])
            return ModelMeta(**data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"model metadata is incomplete: {exc}") from None

    def normalise(self, crops_rgb: np.ndarray) -> np.ndarray:
        """uint8 ``(N, S, S, 3)`` RGB crops -> float32 ``(N, 3, S, S)`` network input."""
        x: np.ndarray = crops_rgb.astype(np.float32) * np.float32(1.0 / 255.0)
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def read_onnx_meta(path: str | Path) -> ModelMeta:
    """Read and validate the CallShield metadata of an ONNX file, with one clear error."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises several unrelated types for garbage input
        raise ModelFileError(f"{path} is not a readable ONNX model ({type(exc).__name__})") from None
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ModelFileError(
            f"{path} is an ONNX model but not a CallShield model (no '{METADATA_KEY}' metadata)"
        )
    return ModelMeta.from_json(props[METADATA_KEY])


def default_model_path() -> Path:
    """The model shipped inside the package."""
    return Path(__file__).resolve().parent / "weights" / "callshield.onnx"
