"""The one face-crop function shared by the runtime and training.

A model only works on crops made the way it was trained on, so the crop geometry lives here once,
is described by a :class:`CropSpec` stored in the model's metadata, and training's crop cache calls
this very module (DESIGN.md, "Face crop" contract).

Convention: frames are ``uint8`` RGB arrays ``(H, W, 3)``; keypoints are pixel ``(x, y)`` in the
order MediaPipe's face detector reports them: right eye, left eye, nose tip, mouth centre (the
person's right eye appears on the image's left in an unmirrored frame). Extra keypoints are ignored.

OpenCV is imported by :func:`align_face` only: :class:`CropSpec` is part of every model's metadata,
so ``engines`` imports this module, and ``python -m engines.gpu_check`` must start on a GPU machine
that has torch and numpy but no OpenCV.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

# Where the four alignment keypoints land in a crop of side 1.0 at scale 1.0. Chosen so that the
# whole face (forehead to chin, ear to ear) fits with a margin: self-blending needs the blend
# boundary inside the crop.
TEMPLATE_UNIT = np.array(
    [
        [0.35, 0.40],  # right eye
        [0.65, 0.40],  # left eye
        [0.50, 0.56],  # nose tip
        [0.50, 0.71],  # mouth centre
    ],
    dtype=np.float64,
)
N_ALIGN_POINTS = len(TEMPLATE_UNIT)


@dataclass(frozen=True)
class CropSpec:
    """Geometry of an aligned face crop.

    ``size`` is the side in pixels; ``scale`` > 1 zooms out around the template centre (more
    context), < 1 zooms in.
    """

    size: int = 128
    scale: float = 1.1

    def template(self) -> np.ndarray:
        """Template keypoints in crop pixels for this spec."""
        centre = np.array([0.5, 0.5])
        unit = centre + (TEMPLATE_UNIT - centre) / self.scale
        return unit * self.size

    def key(self) -> str:
        """A short stable id for caches keyed by crop geometry."""
        blob = json.dumps({"v": 1, **asdict(self), "template": TEMPLATE_UNIT.tolist()}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, float]:
        return {"size": self.size, "scale": self.scale}

    @staticmethod
    def from_dict(data: dict[str, float]) -> CropSpec:
        return CropSpec(size=int(data["size"]), scale=float(data["scale"]))


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` to ``dst``.

    Umeyama's closed form; returns a 2x3 matrix for ``cv2.warpAffine``. A similarity (not a full
    affine) keeps faces undistorted, so the detector sees real face shape, not a normalised one.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / max(var_s, 1e-12)
    trans = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, trans[:, None]])


def crop_matrix(keypoints: np.ndarray, spec: CropSpec) -> np.ndarray:
    """The 2x3 frame-to-crop matrix for a face's keypoints."""
    pts = np.asarray(keypoints, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < N_ALIGN_POINTS or pts.shape[1] != 2:
        raise ValueError(f"need at least {N_ALIGN_POINTS} (x, y) keypoints, got shape {pts.shape}")
    return similarity_transform(pts[:N_ALIGN_POINTS], spec.template())


def align_face(frame: np.ndarray, keypoints: np.ndarray, spec: CropSpec) -> np.ndarray:
    """Aligned ``(size, size, 3)`` uint8 crop of the face with these keypoints.

    Pixels outside the frame are black, so a face partly off-frame looks like that to the model
    both in training and at run time.
    """
    import cv2

    matrix = crop_matrix(keypoints, spec)
    return cv2.warpAffine(
        frame, matrix, (spec.size, spec.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to ``(N, 2)`` points (e.g. landmarks into crop coordinates)."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def face_scale_px(keypoints: np.ndarray) -> float:
    """Inter-ocular distance in pixels: the face-size measure used for quality gating."""
    pts = np.asarray(keypoints, dtype=np.float64)
    return float(np.linalg.norm(pts[1] - pts[0]))
