"""ONNX Runtime backend: the live path's default, torch-free.

Two facts shape this module.

* ONNX Runtime insists on every graph input being fed, even when only one output is asked for
  (``run(["features"], {"crops": x})`` fails with "Required inputs (['window']) are missing").
  The CallShield graph holds two independent paths, so the model is split in memory into an
  encoder session and a head session (``onnx.utils.Extractor``): each call then runs exactly its
  own path, with its own thread setting, and nothing is fed that the path does not use. The other
  way, feeding a zero-size dummy for the unused input, was measured slower per call and depends
  on every op of the other path accepting empty tensors (see BENCHMARKS.md, "ONNX split").
* ONNX Runtime silently falls back to CPU when the CUDA/TensorRT libraries are missing. The
  providers actually obtained are read back from the session and reported in ``.provider``; a
  GPU request that ended on CPU logs one warning, or raises with ``strict=True``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

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
from engines.base import Backend

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
PROVIDERS_FOR_DEVICE: dict[str, list[str]] = {
    "cpu": [CPU],
    "cuda": [CUDA, CPU],
    "tensorrt": [TENSORRT, CUDA, CPU],
}


class ProviderUnavailable(ModelFileError):
    """A GPU execution provider was required (``strict=True``) but ONNX Runtime could not use it."""


def default_threads() -> int:
    """Intra-op threads for the encoder: the cores we have, at most 4.

    On the 2-core laptops this targets, 2 threads halve the encoder's latency; more than the cores
    only adds contention with the face detector running on the same cores.
    """
    return max(1, min(4, os.cpu_count() or 1))


def load_onnx_model(path: Path) -> Any:
    """Parse an ONNX file, turning every parser failure into one :class:`ModelFileError` line."""
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        import onnx

        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for garbage
        raise ModelFileError(f"{path} is not a readable ONNX model ({type(exc).__name__})") from None


def meta_from_model(model: Any, path: Path) -> ModelMeta:
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ModelFileError(
            f"{path} is an ONNX model but not a CallShield model (no '{METADATA_KEY}' metadata)"
        )
    return ModelMeta.from_json(props[METADATA_KEY])


def _dims(value_info: Any) -> list[int | str]:
    """Static dims as ints, dynamic ones as their symbolic name (or '?')."""
    dims: list[int | str] = []
    for dim in value_info.type.tensor_type.shape.dim:
        dims.append(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or "?"))
    return dims


def check_interface(model: Any, meta: ModelMeta, path: Path) -> None:
    """The graph must take and return what the metadata promises, else one clear error."""
    inputs = {vi.name: _dims(vi) for vi in model.graph.input}
    outputs = {vi.name: _dims(vi) for vi in model.graph.output}
    s, t, d = meta.crop.size, meta.window, meta.feature_dim
    expected_in: dict[str, list[int | None]] = {ENCODER_INPUT: [None, 3, s, s], HEAD_INPUT: [None, t, d]}
    expected_out: dict[str, list[int | None]] = {ENCODER_OUTPUT: [None, d], HEAD_OUTPUT: [None]}
    for kind, found, expected in (("input", inputs, expected_in), ("output", outputs, expected_out)):
        for name, want in expected.items():
            if name not in found:
                raise ModelFileError(
                    f"{path}: not a CallShield model graph (no {kind} {name!r}; has {sorted(found)})"
                )
            got = found[name]
            ok = len(got) == len(want) and all(
                w is None or g == w or isinstance(g, str) for g, w in zip(got, want, strict=True)
            )
            if not ok:
                shown = ["N" if w is None else w for w in want]
                raise ModelFileError(f"{path}: {kind} {name!r} has shape {got}, metadata says {shown}")


def split_paths(model: Any) -> tuple[bytes, bytes]:
    """Serialized encoder-only and head-only sub-models of the two-path graph."""
    from onnx.utils import Extractor

    extractor = Extractor(model)
    encoder = extractor.extract_model([ENCODER_INPUT], [ENCODER_OUTPUT])
    head = extractor.extract_model([HEAD_INPUT], [HEAD_OUTPUT])
    for sub in (encoder, head):
        sub.ir_version = model.ir_version
        del sub.opset_import[:]
        sub.opset_import.extend(model.opset_import)
    return encoder.SerializeToString(), head.SerializeToString()


class OnnxBackend(Backend):
    """A CallShield ONNX model in two ONNX Runtime sessions (encoder, head)."""

    name = "onnxruntime"

    def __init__(self, meta: ModelMeta, encoder: Any, head: Any, provider: str, requested: list[str]) -> None:
        super().__init__(meta, provider)
        self._encoder = encoder
        self._head_session = head
        self.requested = requested
        self.providers: list[str] = list(encoder.get_providers())

    @classmethod
    def load(
        cls, path: str | Path, device: str = "cpu", strict: bool = False, threads: int | None = None
    ) -> OnnxBackend:
        """Load ``path`` on ``device`` ("cpu", "cuda", "tensorrt").

        ``strict``: raise :class:`ProviderUnavailable` instead of warning when a GPU provider was
        asked for and ONNX Runtime ended up on CPU. ``threads``: encoder intra-op threads.
        """
        import onnxruntime as ort

        path = Path(path)
        if device not in PROVIDERS_FOR_DEVICE:
            raise ModelFileError(f"unknown device {device!r}; known: {', '.join(PROVIDERS_FOR_DEVICE)}")
        model = load_onnx_model(path)
        meta = meta_from_model(model, path)
        check_interface(model, meta, path)
        try:
            encoder_bytes, head_bytes = split_paths(model)
        except Exception as exc:
            raise ModelFileError(f"{path}: cannot separate the encoder and head paths ({exc})") from None
        del model

        requested = PROVIDERS_FOR_DEVICE[device]
        available = set(ort.get_available_providers())
        providers = [p for p in requested if p in available] or [CPU]
        try:
            encoder = ort.InferenceSession(
                encoder_bytes, _session_options(ort, threads or default_threads()), providers=providers
            )
            # The head is a few small matmuls on (B, T, D): one thread, no pool wake-up cost.
            head = ort.InferenceSession(head_bytes, _session_options(ort, 1), providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelFileError(f"{path}: ONNX Runtime cannot load this model ({first_line})") from None
        got = encoder.get_providers()[0]
        if got != requested[0]:
            want = requested[0]
            why = "not in this onnxruntime build" if want not in available else "failed to start"
            message = (
                f"asked ONNX Runtime for {want} but it is running on {got} ({want} {why}; "
                "install onnxruntime-gpu matching your CUDA, or use device='cpu')"
            )
            if strict:
                raise ProviderUnavailable(message)
            log.warning(message)
        return cls(meta, encoder, head, got, requested)

    def _encode(self, crops: np.ndarray) -> np.ndarray:
        out: np.ndarray = self._encoder.run([ENCODER_OUTPUT], {ENCODER_INPUT: crops})[0]
        return out

    def _head(self, windows: np.ndarray) -> np.ndarray:
        out: np.ndarray = self._head_session.run([HEAD_OUTPUT], {HEAD_INPUT: windows})[0]
        return out.reshape(-1)


def _session_options(ort: Any, threads: int) -> Any:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # No busy-waiting between calls: on 2 cores a spinning pool steals the time MediaPipe needs.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts
