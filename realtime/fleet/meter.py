"""How full the encoder's batches are: the figure that says whether batching across streams works.

One peer at 30 fps with one face sends the encoder one crop per frame; the point of one shared
deployment is that crops of several streams arriving together go through in one call. The meter
counts calls, crops and requests (one request = one frame's crops of one stream), so
``crops / calls`` is the encoder's mean batch size and ``requests / calls`` the streams merged per
call. No Ray import: the in-process bench meters its shared backend with the same class.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, astuple, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BatchCounts:
    """Totals since start; subtract two snapshots (:meth:`since`) for a measured window."""

    calls: int = 0
    crops: int = 0
    requests: int = 0
    busy_s: float = 0.0

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def since(self, earlier: BatchCounts) -> BatchCounts:
        return BatchCounts(*(a - b for a, b in zip(astuple(self), astuple(earlier), strict=True)))

    def summary(self) -> dict[str, Any]:
        calls = max(1, self.calls)
        return {
            **asdict(self),
            "busy_s": round(self.busy_s, 3),
            "mean_batch": round(self.crops / calls, 2) if self.calls else 0.0,
            "mean_requests_per_call": round(self.requests / calls, 2) if self.calls else 0.0,
        }

    @classmethod
    def total(cls, parts: list[BatchCounts]) -> BatchCounts:
        """Counts of several replicas added up."""
        return sum(parts, cls())


class BatchMeter:
    """Thread-safe running :class:`BatchCounts`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = BatchCounts()

    def record(self, crops: int, requests: int, seconds: float) -> None:
        with self._lock:
            self._counts += BatchCounts(1, crops, requests, seconds)

    def snapshot(self) -> BatchCounts:
        with self._lock:
            return self._counts  # frozen: the caller cannot change the running totals


class MeteredBackend:
    """A backend whose :meth:`encode` calls are metered; everything else is the wrapped backend's.

    The in-process server shares one backend between peers, each calling it with its own frame's
    crops: this is how its mean batch size is measured, for comparison with the Ray deployment's.
    """

    def __init__(self, backend: Any, meter: BatchMeter) -> None:
        self._backend = backend
        self.meter = meter

    def encode(self, crops: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out: np.ndarray = self._backend.encode(crops)
        self.meter.record(int(crops.shape[0]), 1, time.perf_counter() - start)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)
