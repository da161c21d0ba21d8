"""An in-process pyvirtualcam backend that records what it is sent: the virtual camera without a device.

Registered through pyvirtualcam's own backend registry (``register_backend``), so the code under
test goes through the real ``pyvirtualcam.Camera`` (frame shape checks, pixel format, backend
selection) exactly as it would with v4l2loopback or OBS; only the device at the end is memory.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

NAME = "memory"


class MemoryBackend:
    """Keeps every frame (as ``(H, W, 3)`` RGB) and the ``perf_counter`` time it arrived."""

    instances: list[MemoryBackend] = []
    keep_frames = 400  # older frames are dropped (timestamps are all kept)

    def __init__(
        self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: Any
    ) -> None:
        self.width, self.height, self.fps, self.fourcc = width, height, fps, fourcc
        self._device = device or "memory0"
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.count = 0
        self.closed = threading.Event()
        MemoryBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.times.append(time.perf_counter())
        self.count += 1
        self.frames.append(frame.reshape(self.height, self.width, 3).copy())
        if len(self.frames) > self.keep_frames:
            del self.frames[0]

    def close(self) -> None:
        self.closed.set()

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int | None:
        return None


def register() -> type[MemoryBackend]:
    import pyvirtualcam

    pyvirtualcam.register_backend(NAME, MemoryBackend)
    MemoryBackend.instances.clear()
    return MemoryBackend


def unregister() -> None:
    import pyvirtualcam

    pyvirtualcam.camera.BACKENDS.pop(NAME, None)
