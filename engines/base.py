"""The one backend interface every inference runtime implements, and the factory that picks one.

The runtime (``realtime/``) only ever talks to :class:`Backend`: it encodes each new face crop once
(``encode``) and scores a track's last T features (``head``). Which runtime does the arithmetic
(ONNX Runtime, PyTorch, TensorRT) is chosen by name or by the model file's suffix, as ultralytics
does. Backend modules are imported lazily by :func:`load_backend`, so importing this module (or the
``engines`` package) never imports torch or TensorRT: the live path runs on ONNX Runtime alone.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from engines.artifact import ModelFileError, ModelMeta, default_model_path

# name -> (module, class). Aliases map onto these names.
BACKENDS: dict[str, tuple[str, str]] = {
    "onnxruntime": ("engines.onnx_backend", "OnnxBackend"),
    "torch": ("engines.torch_backend", "TorchBackend"),
    "tensorrt": ("engines.tensorrt_backend", "TensorRTBackend"),
}
ALIASES: dict[str, str] = {"onnx": "onnxruntime", "ort": "onnxruntime", "pytorch": "torch", "trt": "tensorrt"}
SUFFIXES: dict[str, str] = {
    ".onnx": "onnxruntime",
    ".pt": "torch",
    ".pth": "torch",
    ".engine": "tensorrt",
    ".plan": "tensorrt",
}
DEVICES = ("cpu", "cuda", "tensorrt")


class Backend(ABC):
    """A loaded CallShield model on one runtime.

    ``name``: the runtime ("onnxruntime", "torch", "tensorrt"); ``meta``: the model's metadata (crop,
    window T, thresholds...); ``provider``: what ACTUALLY runs the arithmetic, e.g.
    ``"CPUExecutionProvider"`` or ``"cuda:0"``, which may differ from what was asked for.
    """

    name: str = "abstract"

    def __init__(self, meta: ModelMeta, provider: str) -> None:
        self.meta = meta
        self.provider = provider

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Backend:
        """Load a model file; raise :class:`ModelFileError` with one clear line if it is unusable."""

    @abstractmethod
    def _encode(self, crops: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _head(self, windows: np.ndarray) -> np.ndarray: ...

    def encode(self, crops: np.ndarray) -> np.ndarray:
        """float32 ``(N, 3, S, S)`` normalised crops -> float32 ``(N, D)`` features (N may be 0)."""
        size = self.meta.crop.size
        crops = _as_f32(crops)
        if crops.ndim != 4 or crops.shape[1:] != (3, size, size):
            raise ValueError(f"crops must be (N, 3, {size}, {size}) float32, got {crops.shape}")
        if crops.shape[0] == 0:
            return np.zeros((0, self.meta.feature_dim), np.float32)
        return self._encode(crops)

    def head(self, windows: np.ndarray) -> np.ndarray:
        """float32 ``(B, T, D)`` feature windows -> float32 ``(B,)`` logits (> 0 means fake)."""
        t, d = self.meta.window, self.meta.feature_dim
        windows = _as_f32(windows)
        if windows.ndim != 3 or windows.shape[1:] != (t, d):
            raise ValueError(f"windows must be (B, {t}, {d}) float32, got {windows.shape}")
        if windows.shape[0] == 0:
            return np.zeros((0,), np.float32)
        return self._head(windows)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Same as :meth:`encode`: the per-frame work is what callers batch."""
        return self.encode(batch)

    def warmup(self, batch: int = 1) -> None:
        """Run both paths once so the first real frame does not pay for lazy allocation/tuning."""
        size = self.meta.crop.size
        self.encode(np.zeros((batch, 3, size, size), np.float32))
        self.head(np.zeros((batch, self.meta.window, self.meta.feature_dim), np.float32))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.meta.model_version!r}, provider={self.provider!r})"


def _as_f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def resolve_backend_name(path: Path, backend: str = "auto") -> str:
    """The canonical backend name for a request: an explicit name wins, else the file suffix."""
    if backend != "auto":
        name = ALIASES.get(backend, backend)
        if name not in BACKENDS:
            known = ", ".join(["auto", *BACKENDS, *ALIASES])
            raise ModelFileError(f"unknown backend {backend!r}; known: {known}")
        return name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelFileError(
            f"cannot tell the backend from {path.name!r}: expected one of {', '.join(SUFFIXES)} "
            "(or pass backend=...)"
        )
    return SUFFIXES[suffix]


def backend_class(name: str) -> type[Backend]:
    """Import a backend's module only when it is asked for (torch/TensorRT stay unimported otherwise)."""
    module_name, class_name = BACKENDS[ALIASES.get(name, name)]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelFileError(f"backend {name!r} is not available here: {exc}") from None
    cls: type[Backend] = getattr(module, class_name)
    return cls


def load_backend(path: str | Path | None = None, backend: str = "auto", device: str = "cpu") -> Backend:
    """Load a model with the backend named (or implied by the suffix) on ``device``.

    ``path`` None means the shipped model (:func:`engines.artifact.default_model_path`). ``device``:
    "cpu", "cuda" or "tensorrt" (ONNX Runtime's TensorRT provider). Check ``.provider`` on the
    result for what you actually got.
    """
    if device not in DEVICES:
        raise ModelFileError(f"unknown device {device!r}; known: {', '.join(DEVICES)}")
    model_path = Path(path) if path is not None else default_model_path()
    if not model_path.is_file():
        hint = ""
        if path is None:
            hint = " (the shipped model has not been built yet: train one, then `callshield export`)"
        raise ModelFileError(f"model file not found: {model_path}{hint}")
    return backend_class(resolve_backend_name(model_path, backend)).load(model_path, device=device)
