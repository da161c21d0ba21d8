"""Dense face landmarks on aligned crops, for building self-blending masks (training side only).

Why a second landmark model when the runtime has BlazeFace's six keypoints: a blend mask must follow
the face outline (jaw, cheeks, hairline), which six points cannot describe. MediaPipe FaceMesh
(468 points, from mediapipe 0.10.21's model files) gives the outline: its ``solutions.face_mesh``
graph where that release is installed, else the Tasks ``FaceLandmarker`` on a bundle made of the
same files (:func:`mesh_bundle`). It runs on the aligned crop rather
than the full frame so training pays for one small image per face, and at twice the crop's
resolution (same alignment via :func:`realtime.crop.crop_matrix`) because FaceMesh is unreliable
on 128-px inputs. Points come back in the 128-px crop's pixel coordinates.

Measured on this machine (2 cores): ~5 ms per crop including the 2x warp (see the module's test
and the report); run it once per crop when building the crop cache, not in the training loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from realtime import face_models
from realtime.crop import CropSpec, align_face
from realtime.faces import FaceDetector, has_solutions, import_mediapipe

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
        mp = import_mediapipe()
        self.spec = spec or CropSpec()
        self.hi_spec = CropSpec(size=self.spec.size * UPSAMPLE, scale=self.spec.scale)
        self._mesh: Any
        self._detect: Callable[[np.ndarray], list[list[tuple[float, float]]]]
        if has_solutions(mp):
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=False,
                min_detection_confidence=min_confidence,
            )
            self._detect = lambda crop: [
                [(lm.x, lm.y) for lm in face.landmark]
                for face in self._mesh.process(crop).multi_face_landmarks or []
            ]
        else:
            self._mesh = MeshOnOnnx(min_confidence)
            self._detect = self._mesh

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
        faces = self._detect(np.ascontiguousarray(hi_crop))
        if not faces:
            return None
        size = self.hi_spec.size
        pts = np.array(faces[0][:N_MESH_POINTS], dtype=np.float32) * np.float32(size)
        pts /= np.float32(UPSAMPLE)
        return FaceLandmarks.from_points(pts)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> CropLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MeshOnOnnx:
    """0.10.21's face mesh without its graph: BlazeFace, the graph's face box, the mesh model on ONNX.

    Follows what ``solutions.face_mesh`` (static images) did, step for step: the short-range
    detector's best face; a square region 1.5x the box's long side around its centre, turned so the
    eyes (keypoints 0 and 1) lie level; that region resampled to the model's 192x192 input in
    [0, 1]; the 468 points mapped back; no face when the model's presence score is under 0.5.
    ``__call__(image) -> [points]``: one list of 468 ``(x, y)`` in ``[0, 1]`` image coordinates, or
    none. How close it lands to the graph is in the module's test and BENCHMARKS.md.
    """

    SIZE = 192
    ROI_SCALE = 1.5

    def __init__(self, min_confidence: float = 0.5) -> None:
        import onnxruntime as ort

        from engines.tflite_onnx import tflite_to_onnx

        self.detector = FaceDetector("short", min_confidence)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        model = tflite_to_onnx(face_models.model_path(face_models.FACE_MESH).read_bytes())
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def __call__(self, image: np.ndarray) -> list[list[tuple[float, float]]]:
        faces = self.detector(image)
        if not faces:
            return []
        face = max(faces, key=lambda det: det.score)
        (x0, y0, x1, y1), eyes = face.box, face.keypoints[:2]
        angle = -float(np.arctan2(-(eyes[1, 1] - eyes[0, 1]), eyes[1, 0] - eyes[0, 0]))
        side = max(x1 - x0, y1 - y0) * self.ROI_SCALE
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2], np.float64)
        cos, sin = np.cos(angle), np.sin(angle)
        # tensor pixel (u, v) -> image point: centre + R(angle) @ ((u, v) / SIZE - 0.5) * side
        to_image = np.array([[cos, -sin], [sin, cos]]) * (side / self.SIZE)
        offset = centre - to_image @ np.array([self.SIZE / 2, self.SIZE / 2])
        matrix = np.hstack([to_image, offset[:, None]])
        tensor = cv2.warpAffine(
            image, matrix, (self.SIZE, self.SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        batch = (tensor.astype(np.float32) / 255.0)[None]
        points, presence = self.session.run(None, {"input": batch})
        if 1.0 / (1.0 + np.exp(-float(presence.reshape(-1)[0]))) < 0.5:
            return []
        xy = points.reshape(-1, 3)[:, :2].astype(np.float64)
        in_image = xy @ to_image.T + offset
        height, width = image.shape[:2]
        return [[(float(x / width), float(y / height)) for x, y in in_image]]

    def close(self) -> None:
        self.detector.close()
