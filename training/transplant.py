"""Cross-stream transplants: a live swap's face, and its real twin's, pasted into another real stream.

Why: on held-out identities the encoder ranks a swap above its own real twin most of the time, yet
across streams its scores follow the stream (its camera, light, compression and background) more
than the swap (MODEL_CARD.md). A transplanted pair takes that shortcut away. Both halves share one
host crop from a third, real stream, one blend mask from the host's landmarks and one blend; the
donors are the swap and its real twin (the same frame of the same source stream, so the same pose
and expression). The only difference left between the two is the swap itself, now in a stream the
encoder has seen as real. Unlike self-blending, whose pseudo-fake carries a blend the real does not,
here both halves are blended, so the blend boundary is no evidence either way.

Crops are aligned ``uint8`` RGB ``(S, S, 3)`` from :func:`realtime.crop.align_face`, so the donors'
faces already sit where the host's face is; the host's 468 FaceMesh points (crop cache) shape the
mask. Budget: about 1 ms per 128-px pair on one core.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from training.sbi import blend_mask, sample_params

COLOUR_EPS = 1.0  # grey levels: a flat channel keeps its own spread rather than divide by ~0


def match_colour(donor: np.ndarray, host: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``donor`` (float32) with each channel's weighted mean and spread moved onto ``host``'s.

    The weights are the blend mask: the face region of both crops, so the pasted face takes the
    host's light and white balance and a colour seam is no cue either."""
    w = weight[..., None].astype(np.float32)
    total = float(w.sum())
    d = donor.astype(np.float32)
    if total <= 0:
        return d
    h = host.astype(np.float32)
    d_mean = (d * w).sum(axis=(0, 1)) / total
    h_mean = (h * w).sum(axis=(0, 1)) / total
    d_std = np.sqrt(((d - d_mean) ** 2 * w).sum(axis=(0, 1)) / total) + COLOUR_EPS
    h_std = np.sqrt(((h - h_mean) ** 2 * w).sum(axis=(0, 1)) / total) + COLOUR_EPS
    return np.asarray((d - d_mean) * (h_std / d_std) + h_mean, dtype=np.float32)


def paste(donor: np.ndarray, host: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask * match_colour(donor) + (1 - mask) * host`` as uint8."""
    m = mask[..., None]
    out = host.astype(np.float32)
    out += m * (match_colour(donor, host, mask) - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def transplant_pair(
    swap: np.ndarray,
    twin: np.ndarray,
    host: np.ndarray,
    host_mesh: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(swap_in_host, twin_in_host, mask)``: the swap's and its real twin's face in ``host``'s
    stream, both pasted through one :func:`transplant_mask`, which is also where the swap is."""
    if swap.shape != host.shape or twin.shape != host.shape:
        raise ValueError(f"crops must share one shape, got {swap.shape}, {twin.shape}, {host.shape}")
    mask = transplant_mask(host, host_mesh, rng)
    return paste(swap, host, mask), paste(twin, host, mask), mask


def transplant_mask(host: np.ndarray, host_mesh: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """The paste mask, ``(S, S)`` float32 in [0, 1]: the host's face oval or inner face, eroded or
    dilated, feathered; full strength, since a half-pasted face would keep half of the host's real
    face. It is also where the pasted swap is fake."""
    size = host.shape[0]
    params = dataclasses.replace(sample_params(rng, size), blend_ratio=1.0)
    return blend_mask(size, host_mesh, params)
