"""Per-face quality flags: when a face is too poor to judge, CallShield abstains instead of guessing.

The field's top complaint is real webcam faces flagged as fake (DESIGN.md). Most of those are faces
the detector cannot see well: tiny tiles of a grid view, motion blur, a dark room, a blown-out
window behind the user. Each flag below marks one such case; any flag set makes the risk state
``uncertain`` for that frame (see :mod:`realtime.risk`).

All image measurements are taken on a *quality crop* of fixed geometry (:data:`QUALITY_CROP`),
whatever crop size the model uses, so the thresholds mean the same thing for every model. They
were measured on carphone_pristine.mp4 (MediaPipe full-range detector, inter-ocular ~22 px) and on
synthetic degradations of it (tests/realtime/test_quality.py):

=================  ===========  ==================================================================
flag               threshold    measured
=================  ===========  ==================================================================
too_small          < 14 px      inter-ocular distance in the frame. carphone 19-25 px; carphone
                                downscaled x0.5: 11 px. Below ~14 px the crop is a 2.5x upscale.
too_blurred        < 30         sharpness (below). carphone 84-163; re-encoded as a call would be
                                (VP8 at 60 kbit/s): 50-163; 4x5 gallery tiles: 46-96; Gaussian
                                blur sigma 1: 13-38, sigma 1.5: 6-21, sigma 2: <= 12.
too_dark           < 45         mean luma of the inner face. carphone 117; x0.5 exposure: 58;
                                x0.3: 35.
too_bright         > 210        same measure. carphone +60: 177; +100: 216; +140: 244.
low_confidence     < 0.6        detector score. carphone 0.64-0.94 (MediaPipe keeps >= 0.5).
=================  ===========  ==================================================================

Sharpness is the variance of the Laplacian of the grey inner face, rescaled as if the face were
lit to a mean luma of 128 when it is darker than that: dimming scales every gradient, and a dim but
sharp face is the ``too_dark`` case, not a blurred one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.crop import CropSpec, align_face, face_scale_px

QUALITY_FLAGS = ("too_small", "too_blurred", "too_dark", "too_bright", "low_confidence")

QUALITY_CROP = CropSpec(size=128, scale=1.1)
# Inner face (eyes to below the mouth) inside QUALITY_CROP: rows, then columns.
INNER_ROWS = slice(40, 104)
INNER_COLS = slice(32, 96)


@dataclass(frozen=True)
class QualityThresholds:
    """Limits below/above which a face is flagged; defaults measured as in the module docstring."""

    min_eye_distance_px: float = 14.0
    min_sharpness: float = 30.0
    min_brightness: float = 45.0
    max_brightness: float = 210.0
    min_confidence: float = 0.6


DEFAULT_THRESHOLDS = QualityThresholds()


@dataclass(frozen=True)
class FaceQuality:
    """Measurements of one face in one frame, and the flags they raise (empty when good)."""

    eye_distance_px: float
    sharpness: float
    brightness: float
    confidence: float
    flags: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.flags


def quality_crop(
    frame_rgb: np.ndarray,
    keypoints: np.ndarray,
    model_crop: np.ndarray | None = None,
    model_spec: CropSpec | None = None,
) -> np.ndarray:
    """The crop quality is measured on: the model's own crop when its geometry matches, else a new one."""
    if model_crop is not None and model_spec == QUALITY_CROP:
        return model_crop
    return align_face(frame_rgb, keypoints, QUALITY_CROP)


def measure_crop(crop_rgb: np.ndarray) -> tuple[float, float]:
    """(sharpness, brightness) of the inner face of a :data:`QUALITY_CROP` crop."""
    if crop_rgb.shape[:2] != (QUALITY_CROP.size, QUALITY_CROP.size):
        raise ValueError(f"expected a {QUALITY_CROP.size}px quality crop, got {crop_rgb.shape}")
    grey = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY)[INNER_ROWS, INNER_COLS].astype(np.float32)
    brightness = float(grey.mean())
    laplacian_var = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    gain = 128.0 / float(np.clip(brightness, 16.0, 128.0))
    return laplacian_var * gain * gain, brightness


def assess_face(
    crop_rgb: np.ndarray,
    keypoints: np.ndarray,
    confidence: float,
    thresholds: QualityThresholds = DEFAULT_THRESHOLDS,
) -> FaceQuality:
    """Flags for one face: ``crop_rgb`` is its :data:`QUALITY_CROP` crop, ``keypoints`` in frame pixels."""
    eye_distance = face_scale_px(keypoints)
    sharpness, brightness = measure_crop(crop_rgb)
    flags = []
    if eye_distance < thresholds.min_eye_distance_px:
        flags.append("too_small")
    if sharpness < thresholds.min_sharpness:
        flags.append("too_blurred")
    if brightness < thresholds.min_brightness:
        flags.append("too_dark")
    if brightness > thresholds.max_brightness:
        flags.append("too_bright")
    if confidence < thresholds.min_confidence:
        flags.append("low_confidence")
    return FaceQuality(eye_distance, sharpness, brightness, float(confidence), tuple(flags))
