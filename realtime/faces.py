"""Face detection with the MediaPipe BlazeFace models bundled in mediapipe 0.10.21.

Why BlazeFace and not the 478-point mesh at run time: its six keypoints are enough for the
similarity alignment in :mod:`realtime.crop`, and it costs ~2 ms a frame on two CPU cores, which
leaves the budget to the detector. Releases after 0.10.21 dropped the bundled models, so this module
checks the version and says so instead of failing obscurely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime.errors import UserError

MEDIAPIPE_VERSION = "0.10.21"


@dataclass
class Detection:
    """One face in one frame: pixel box ``(x0, y0, x1, y1)``, six keypoints ``(6, 2)``, score."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])


def _import_mediapipe() -> Any:
    try:
        import mediapipe as mp
    except ImportError as exc:
        raise UserError(
            f"mediapipe is not installed ({exc}); pip install mediapipe=={MEDIAPIPE_VERSION}"
        ) from None
    solutions = getattr(mp, "solutions", None)
    if solutions is None or not hasattr(solutions, "face_detection"):
        raise UserError(
            f"mediapipe {getattr(mp, '__version__', '?')} has no bundled face models; "
            f"pip install mediapipe=={MEDIAPIPE_VERSION}"
        )
    return mp


class FaceDetector:
    """MediaPipe face detection on RGB frames, returning pixel-space detections.

    ``model``: ``"full"`` (full-range model, finds small faces such as a call's grid view, up to
    ~5 m) or ``"short"`` (short-range, faster, faces within ~2 m of a webcam).
    """

    def __init__(self, model: str = "full", min_confidence: float = 0.5) -> None:
        if model not in ("full", "short"):
            raise ValueError(f"model must be 'full' or 'short', not {model!r}")
        mp = _import_mediapipe()
        self.model = model
        self._impl = mp.solutions.face_detection.FaceDetection(
            model_selection=1 if model == "full" else 0, min_detection_confidence=min_confidence
        )

    def __call__(self, frame_rgb: np.ndarray) -> list[Detection]:
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected a uint8 RGB frame (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
        height, width = frame_rgb.shape[:2]
        result = self._impl.process(np.ascontiguousarray(frame_rgb))
        detections: list[Detection] = []
        for det in result.detections or []:
            loc = det.location_data
            rel = loc.relative_bounding_box
            box = np.array(
                [
                    rel.xmin * width,
                    rel.ymin * height,
                    (rel.xmin + rel.width) * width,
                    (rel.ymin + rel.height) * height,
                ],
                dtype=np.float32,
            )
            kps = np.array([[kp.x * width, kp.y * height] for kp in loc.relative_keypoints], dtype=np.float32)
            if kps.shape != (6, 2):
                continue
            detections.append(Detection(box=box, keypoints=kps, score=float(det.score[0])))
        return detections

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
