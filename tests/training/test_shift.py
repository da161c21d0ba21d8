"""The benchmark's compression shift runs real H.264 and keeps the crops' shape and order."""

from __future__ import annotations

import numpy as np
import pytest

from training.degrade import psnr
from training.shift import CONDITIONS, shifted_crops


def _crops(n: int = 12, size: int = 64) -> np.ndarray:
    """A textured square drifting across a gradient: detail a codec must spend bits on."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (size // 2, size // 2, 3), dtype=np.uint8)
    base = np.tile(np.linspace(40, 200, size, dtype=np.uint8)[None, :, None], (size, 1, 3))
    out = []
    for k in range(n):
        frame = base.copy()
        frame[8 : 8 + size // 2, k : k + size // 2] = texture
        out.append(frame)
    return np.stack(out)


def test_clean_is_untouched_and_heavy_costs_more_than_the_call() -> None:
    crops = _crops()
    assert shifted_crops(crops, "clean") is crops
    quality = {}
    for condition in CONDITIONS[1:]:
        out = shifted_crops(crops, condition)
        assert out.shape == crops.shape and out.dtype == np.uint8
        quality[condition] = np.mean([psnr(a, b) for a, b in zip(crops, out, strict=True)])
    assert 15 < quality["heavy"] < quality["call"] < 45  # both lossy, heavy the worse


def test_an_unknown_condition_is_refused() -> None:
    with pytest.raises(ValueError, match="condition must be one of"):
        shifted_crops(_crops(2), "c23")
