"""Training checkpoints and ONNX export: how a trained detector becomes the shipped model file.

Checkpoint format (``.pt``, written by :func:`save_checkpoint`, read by :func:`load_checkpoint` and
by the torch backend). A ``torch.save``'d dict with at least :data:`CHECKPOINT_KEYS`:

* ``"config"``: the training config as a plain dict (``training.config.config_to_dict``); only
  ``config["model"]`` is needed here: ``{"name": registry name, "feature_dim": D, ...}``. Keys that
  are not detector constructor arguments (``window``: lives in the metadata; ``imagenet``: the
  state dict already holds the weights) are ignored when rebuilding the detector;
* ``"model_state"``: ``Detector.state_dict()``;
* ``"meta"``: :meth:`engines.artifact.ModelMeta.to_json` (a JSON string; a dict is accepted too).

Further keys (optimiser state, step, metrics) are allowed and ignored. Only plain types and tensors
are stored, so checkpoints load with ``torch.load(weights_only=True)``: opening one never runs code.

Export (:func:`export_onnx`) writes ONE ONNX graph with both paths of the artifact contract
(``crops (N,3,S,S) -> features (N,D)`` and ``window (B,T,D) -> logit (B,)``, N and B dynamic, T
fixed from the metadata), stores the metadata in ``metadata_props["callshield"]``, checks the graph
with ``onnx.checker``, and runs it in ONNX Runtime against PyTorch before the file appears under
its name (temp file + rename: a failed export never leaves a half-written model behind).
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.artifact import (
    ENCODER_INPUT,
    ENCODER_OUTPUT,
    HEAD_INPUT,
    HEAD_OUTPUT,
    METADATA_KEY,
    ModelFileError,
    ModelMeta,
)
from realtime.atomic import atomic_path

if TYPE_CHECKING:
    import torch

    from training.models.registry import Detector

CHECKPOINT_KEYS = ("config", "model_state", "meta")
# config["model"] keys that describe training, not the detector's constructor.
NON_DETECTOR_KEYS = frozenset({"name", "window", "imagenet"})
PARITY_ATOL = 1e-4
DEFAULT_OPSET = 17


class ExportError(RuntimeError):
    """The exported graph failed its checks (checker, or ONNX Runtime disagreeing with PyTorch)."""


@dataclass
class Checkpoint:
    """A loaded training checkpoint: the rebuilt detector (eval mode), its config and metadata."""

    model: Detector
    config: dict[str, Any]
    meta: ModelMeta


@dataclass
class ExportResult:
    path: Path
    size_bytes: int
    feature_max_abs_diff: float
    logit_max_abs_diff: float


def save_checkpoint(
    path: str | Path, model: Detector, config: dict[str, Any], meta: ModelMeta, **extra: Any
) -> Path:
    """Write a checkpoint atomically (temp file + rename). ``extra``: further plain-typed keys."""
    import torch

    if "model" not in config or "name" not in config["model"]:
        raise ValueError("config must hold model.name (the detector's registry name)")
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"config": config, "model_state": state, "meta": meta.to_json(), **extra}, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> Checkpoint:
    """Read a checkpoint and rebuild its detector, with one clear :class:`ModelFileError` on failure."""
    import torch

    from training.models import create_detector

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"checkpoint not found: {path}")
    try:
        data = torch.load(str(path), map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle/zip errors come in many types
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ModelFileError(f"{path} is not a readable CallShield checkpoint ({reason})") from None
    if not isinstance(data, dict) or any(k not in data for k in CHECKPOINT_KEYS):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ModelFileError(
            f"{path} is not a CallShield checkpoint (needs keys {list(CHECKPOINT_KEYS)}, has {found})"
        )
    meta_raw = data["meta"]
    meta = ModelMeta.from_json(meta_raw if isinstance(meta_raw, str) else json.dumps(meta_raw))
    model_cfg = dict(data["config"].get("model", {}))
    name = model_cfg.get("name")
    if not name:
        raise ModelFileError(f"{path}: checkpoint config has no model.name")
    kwargs = {k: v for k, v in model_cfg.items() if k not in NON_DETECTOR_KEYS}
    try:
        model = create_detector(name, **kwargs)
        model.load_state_dict(data["model_state"])
    except (KeyError, TypeError, RuntimeError) as exc:
        first = str(exc).strip("'\"").splitlines()[0][:200]
        raise ModelFileError(f"{path}: weights do not fit detector {name!r} ({first})") from None
    model.eval()
    return Checkpoint(model=model, config=data["config"], meta=meta)


class _BothPaths:
    """Builds the two-input/two-output wrapper lazily so this module imports without torch."""

    @staticmethod
    def wrap(model: Detector) -> torch.nn.Module:
        import torch

        class BothPaths(torch.nn.Module):
            def __init__(self, detector: Detector) -> None:
                super().__init__()
                self.detector = detector

            def forward(self, crops: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return self.detector.encode(crops), self.detector.score_window(window)

        return BothPaths(model)


def export_onnx(
    model: Detector,
    meta: ModelMeta,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    self_test: bool = True,
    atol: float = PARITY_ATOL,
) -> ExportResult:
    """Export a detector to a CallShield ONNX model at ``path``; returns what the self-test measured.

    ``meta.feature_dim`` is taken from the model; the window length T is ``meta.window``. The model's
    train/eval mode is restored afterwards (``torch.onnx.export`` would otherwise leave it in the
    wrapper's mode, i.e. training mode, with dropout on).
    """
    import onnx
    import torch

    path = Path(path)
    meta = replace(meta, feature_dim=int(model.feature_dim))
    if not meta.arch:
        meta = replace(meta, arch={"class": type(model.head).__name__, "feature_dim": int(model.feature_dim)})
    size, window, dim = meta.crop.size, meta.window, meta.feature_dim
    was_training = model.training
    wrapper = _BothPaths.wrap(model).eval()
    example = (torch.randn(2, 3, size, size), torch.randn(2, window, dim))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and RNN notes
            torch.onnx.export(
                wrapper,
                example,
                buffer,  # type: ignore[arg-type]  # the TorchScript exporter accepts file objects
                dynamo=False,  # the dynamo exporter needs onnxscript, which is not a dependency
                opset_version=opset,
                input_names=[ENCODER_INPUT, HEAD_INPUT],
                output_names=[ENCODER_OUTPUT, HEAD_OUTPUT],
                dynamic_axes={
                    ENCODER_INPUT: {0: "N"},
                    ENCODER_OUTPUT: {0: "N"},
                    HEAD_INPUT: {0: "B"},
                    HEAD_OUTPUT: {0: "B"},
                },
                do_constant_folding=True,
            )
    finally:
        model.train(was_training)
    proto = onnx.load_from_string(buffer.getvalue())
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {METADATA_KEY: meta.to_json()})
    proto.producer_name = "callshield"
    proto.doc_string = f"CallShield detector {meta.model_version}"
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"exported graph fails onnx.checker: {str(exc).splitlines()[0]}") from None

    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(proto.SerializeToString())
        feat_diff, logit_diff = (
            parity(model, Path(tmp), meta, atol=atol) if self_test else (float("nan"), float("nan"))
        )
    return ExportResult(path, path.stat().st_size, feat_diff, logit_diff)


def parity(
    model: Detector,
    onnx_path: Path,
    meta: ModelMeta,
    n: int = 3,
    b: int = 2,
    seed: int = 0,
    atol: float = PARITY_ATOL,
) -> tuple[float, float]:
    """Max abs differences (features, logits) between ONNX Runtime and PyTorch on random inputs.

    Batch sizes differ from the export's example (2) on purpose, so a batch dimension accidentally
    frozen at export time fails here. Raises :class:`ExportError` above ``atol``.
    """
    import torch

    from engines.onnx_backend import OnnxBackend

    rng = np.random.default_rng(seed)
    crops = rng.normal(size=(n, 3, meta.crop.size, meta.crop.size)).astype(np.float32)
    windows = rng.normal(size=(b, meta.window, meta.feature_dim)).astype(np.float32)
    backend = OnnxBackend.load(onnx_path, threads=1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ref_feat = model.encode(torch.from_numpy(crops)).numpy()
            ref_logit = model.score_window(torch.from_numpy(windows)).numpy()
    finally:
        model.train(was_training)
    feat_diff = float(np.abs(backend.encode(crops) - ref_feat).max())
    logit_diff = float(np.abs(backend.head(windows) - ref_logit).max())
    if not (feat_diff <= atol and logit_diff <= atol):
        raise ExportError(
            f"ONNX Runtime disagrees with PyTorch: max |diff| features {feat_diff:.2e}, "
            f"logits {logit_diff:.2e} (limit {atol:.0e})"
        )
    return feat_diff, logit_diff
