"""Where a fake crop is fake: the pixel label behind the encoder's per-cell loss.

Why: across held-out streams the encoder's score follows the stream and the face model more than
the swap (MODEL_CARD.md). A live swap replaces the face inside an oval and leaves hair, neck and
background real, so the outside of every fake crop is a real sample from the *same* stream,
camera and codec as its swapped face. Labelling the encoder's feature cells by where the swap is
(the face oval of the crop's own FaceMesh points) asks the network to tell the face from its own
surroundings, which no stream or look can answer; real crops are real in every cell.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.landmarks import N_MESH_POINTS, face_oval


def face_region(mesh: np.ndarray | None, size: int) -> np.ndarray | None:
    """``(size, size)`` float32: 1 inside the convex hull of the face oval, 0 outside; None when
    ``mesh`` is missing or not 468 finite FaceMesh points in crop pixels."""
    if mesh is None or mesh.shape != (N_MESH_POINTS, 2) or not np.isfinite(mesh).all():
        return None
    hull = cv2.convexHull(np.round(face_oval(mesh)).astype(np.int32))
    region = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(region, hull, (1,))
    return region.astype(np.float32)


def cell_targets(region: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The share of each cell of a ``grid`` = (width, height) feature map that ``region`` covers
    (area mean): ``(height, width)`` float32."""
    small = cv2.resize(np.ascontiguousarray(region), grid, interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.float32)
