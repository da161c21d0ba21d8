"""Cheap per-crop degradations applied inside the training loop.

The expensive, realistic call conditions (real H.264/VP8 at call bitrates) are applied once per video
when the ``call`` crop cache is built (:mod:`training.degrade`). These per-crop ones are the cheap
complement that runs on every sample: JPEG blocking, down/up-scaling, sensor noise, blur, exposure
and colour shifts. They stop the encoder from keying on pristine high-frequency detail that a call
never delivers, which is the classic cause of real webcam faces being flagged as fake.
"""

from __future__ import annotations

import cv2
import numpy as np


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` through a JPEG encode and decode at ``quality`` (unchanged if OpenCV refuses it)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else None
    return image if decoded is None else decoded


def augment_crop(crop: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Random call-like degradation of one uint8 RGB crop (shape kept)."""
    out = crop
    size = crop.shape[0]
    if rng.random() < 0.5 * strength:
        factor = rng.uniform(0.35, 0.9)
        small = max(16, int(size * factor))
        interp = cv2.INTER_AREA if rng.random() < 0.5 else cv2.INTER_LINEAR
        out = cv2.resize(
            cv2.resize(out, (small, small), interpolation=interp),
            (size, size),
            interpolation=cv2.INTER_LINEAR,
        )
    if rng.random() < 0.2 * strength:
        k = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (k, k), 0)
    if rng.random() < 0.5 * strength:
        x = out.astype(np.float32)
        gain = rng.uniform(0.7, 1.3)
        bias = rng.uniform(-20, 20)
        x = x * gain + bias + rng.uniform(-8, 8, size=3).astype(np.float32)
        if rng.random() < 0.3:
            gamma = rng.uniform(0.6, 1.6)
            x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** gamma
        out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.3 * strength:
        sigma = rng.uniform(2, 8)
        noise = rng.normal(0, sigma, size=out.shape).astype(np.float32)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.6 * strength:
        quality = int(rng.integers(35, 95))
        out = jpeg_roundtrip(out, quality)
    return out


def augment_window(
    crops: list[np.ndarray], rng: np.random.Generator, strength: float = 1.0
) -> list[np.ndarray]:
    """Same degradation parameters for every frame of a window (a call's conditions are steady).

    Re-seeding a child generator per frame with one seed keeps the draws identical across frames,
    except that JPEG/noise still differ per frame because the content does.
    """
    seed = int(rng.integers(2**31))
    flip = rng.random() < 0.5
    out = []
    for crop in crops:
        aug = augment_crop(crop, np.random.default_rng(seed), strength)
        out.append(aug[:, ::-1].copy() if flip else aug)
    return out


# Compression levels a crop can be put through, real and fake alike (encoder.compress): 0 keeps the
# crop as cached; 1 is like FaceForensics++ c23 (light H.264); 2 like c40 (heavy quantisation that
# wipes out fine texture). JPEG stands in for the block codec: the same 8x8 DCT quantisation, at a
# cost a training step can pay for every crop.
COMPRESSION_LEVELS = 3
JPEG_QUALITY = {1: (60, 85), 2: (15, 35)}


def compress_crop(crop: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """A JPEG round trip of one uint8 RGB crop at a quality drawn from ``level``'s range (0: as is)."""
    if level == 0:
        return crop
    low, high = JPEG_QUALITY[level]
    quality = int(rng.integers(low, high + 1))
    return jpeg_roundtrip(crop, quality)
