"""Dense face landmarks on aligned crops, for building self-blending masks (training side only).

Why a second landmark model when the runtime has BlazeFace's six keypoints: a blend mask must follow
the face outline (jaw, cheeks, hairline), which six points cannot describe. MediaPipe FaceMesh
(468 points, bundled in mediapipe 0.10.21) gives the outline. It runs on the aligned crop rather
than the full frame so training pays for one small image per face, and at twice the crop's
resolution (same alignment via :func:`realtime.crop.crop_matrix`) because FaceMesh is unreliable
on 128-px inputs. Points come back in the 128-px crop's pixel coordinates.

Measured on this machine (2 cores): ~5 ms per crop including the 2x warp (see the module's test
and the report); run it once per crop when building the crop cache, not in the training loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from realtime.crop import CropSpec, align_face

N_MESH_POINTS = 468

# MediaPipe FACEMESH_FACE_OVAL walked into one closed loop (forehead top -> right side -> chin -> left).
FACE_OVAL_IDX: tuple[int, ...] = (
    10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148,
    152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338,
)  # fmt: skip

# Both eyebrows: the "inner face" mask (no forehead) keeps mesh points below the highest of these.
EYEBROW_IDX: tuple[int, ...] = (
    46, 53, 52, 65, 55, 70, 63, 105, 66, 107,
    276, 283, 282, 295, 285, 300, 293, 334, 296, 336,
)  # fmt: skip

UPSAMPLE = 2


@dataclass(frozen=True)
class FaceLandmarks:
    """FaceMesh landmarks of one aligned crop, in that crop's pixel coordinates.

    ``points``: all 468 mesh points ``(468, 2)`` float32; ``oval``: the face-oval loop
    ``(36, 2)`` float32 (``points[FACE_OVAL_IDX]``), the usual blend-mask outline.
    """

    points: np.ndarray
    oval: np.ndarray

    @staticmethod
    def from_points(points: np.ndarray) -> FaceLandmarks:
        """``from_points(points (468, 2)) -> FaceLandmarks``: wrap stored mesh points (crop cache)."""
        pts = np.asarray(points, dtype=np.float32)
        if pts.shape != (N_MESH_POINTS, 2):
            raise ValueError(f"expected ({N_MESH_POINTS}, 2) mesh points, got {pts.shape}")
        return FaceLandmarks(points=pts, oval=pts[list(FACE_OVAL_IDX)])


def face_oval(points: np.ndarray) -> np.ndarray:
    """``face_oval(points (468, 2)) -> (36, 2)``: the face-oval loop of a full mesh."""
    return np.asarray(points)[list(FACE_OVAL_IDX)]


def inner_face_points(points: np.ndarray) -> np.ndarray:
    """``inner_face_points(points (468, 2)) -> (K, 2)``: mesh points from the eyebrows down.

    Their convex hull is SBI's alternative mask (the dlib-68 hull of the paper): the face without
    the forehead, so the blend boundary crosses the brows instead of the hairline.
    """
    pts = np.asarray(points)
    brow_top = float(pts[list(EYEBROW_IDX), 1].min())
    return pts[pts[:, 1] >= brow_top]


class CropLandmarker:
    """FaceMesh on aligned crops. ``CropLandmarker(spec=CropSpec())``; use as a context manager.

    - ``from_frame(frame_rgb, keypoints) -> FaceLandmarks | None``: aligns the face at 2x the
      spec's size (same geometry), runs FaceMesh, maps points to the ``spec.size`` crop. Best quality.
    - ``from_crop(crop_rgb) -> FaceLandmarks | None``: for an existing ``spec.size`` crop (e.g. a
      cached one); upsamples it 2x with cubic interpolation first.

    ``None`` means FaceMesh found no face; callers fall back to the template ellipse
    (:func:`training.sbi.template_ellipse_mask`).
    """

    def __init__(self, spec: CropSpec | None = None, min_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self.spec = spec or CropSpec()
        self.hi_spec = CropSpec(size=self.spec.size * UPSAMPLE, scale=self.spec.scale)
        self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=False,
            min_detection_confidence=min_confidence,
        )

    def from_frame(self, frame_rgb: np.ndarray, keypoints: np.ndarray) -> FaceLandmarks | None:
        """Landmarks for the face with these detector keypoints, in ``spec.size`` crop pixels."""
        return self._run(align_face(frame_rgb, keypoints, self.hi_spec))

    def from_crop(self, crop_rgb: np.ndarray) -> FaceLandmarks | None:
        """Landmarks of an existing ``spec.size`` aligned crop, in its own pixel coordinates."""
        if crop_rgb.shape[:2] != (self.spec.size, self.spec.size):
            raise ValueError(f"expected a {self.spec.size}-px crop, got {crop_rgb.shape}")
        size = self.hi_spec.size
        return self._run(cv2.resize(crop_rgb, (size, size), interpolation=cv2.INTER_CUBIC))

    def _run(self, hi_crop: np.ndarray) -> FaceLandmarks | None:
        result = self._mesh.process(np.ascontiguousarray(hi_crop))
        faces = result.multi_face_landmarks
        if not faces:
            return None
        size = self.hi_spec.size
        pts = np.array([[lm.x, lm.y] for lm in faces[0].landmark[:N_MESH_POINTS]], dtype=np.float32)
        pts *= np.float32(size / UPSAMPLE)
        return FaceLandmarks.from_points(pts)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> CropLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
