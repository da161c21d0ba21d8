"""PyTorch backend: runs a training checkpoint directly (CPU or CUDA).

For evaluating checkpoints before export, and for GPU machines without ONNX Runtime's CUDA build
(the device machine's GPU path is PyTorch). Never on the live CPU path: torch costs about a second
to import and hundreds of MB, which is why only :func:`engines.base.load_backend` imports this.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from engines.artifact import ModelFileError, ModelMeta
from engines.base import Backend
from engines.export import load_checkpoint
from training.models.registry import Detector

log = logging.getLogger(__name__)


def pick_device(device: str) -> torch.device:
    """ "cpu" -> CPU; "cuda"/"tensorrt" -> the first CUDA GPU, or CPU with one warning if none."""
    if device == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    log.warning("asked PyTorch for %s but no CUDA GPU is usable here; running on CPU", device)
    return torch.device("cpu")


class TorchBackend(Backend):
    """A :class:`training.models.Detector` in eval mode on one torch device."""

    name = "torch"

    def __init__(self, meta: ModelMeta, model: Detector, device: torch.device) -> None:
        provider = f"{device.type}:{device.index}" if device.index is not None else device.type
        super().__init__(meta, provider)
        self.model = model.to(device).eval()
        self.device = device

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TorchBackend:
        path = Path(path)
        if path.suffix.lower() == ".onnx":
            raise ModelFileError(
                f"{path} is an ONNX model: the torch backend runs training checkpoints (.pt)"
            )
        checkpoint = load_checkpoint(path)
        return cls.from_model(checkpoint.model, checkpoint.meta, device)

    @classmethod
    def from_model(cls, model: Detector, meta: ModelMeta, device: str = "cpu") -> TorchBackend:
        """Wrap an in-memory detector (e.g. at the end of training) without a file round trip."""
        return cls(meta, model, pick_device(device))

    def _run(self, fn: str, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = getattr(self.model, fn)(torch.from_numpy(x).to(self.device))
        result: np.ndarray = out.float().cpu().numpy()
        return result

    def _encode(self, crops: np.ndarray) -> np.ndarray:
        return self._run("encode", crops)

    def _head(self, windows: np.ndarray) -> np.ndarray:
        return self._run("score_window", windows).reshape(-1)
