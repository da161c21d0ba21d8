"""Fixtures the training tests share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.media import carphone_path
from tests.training.tiny import make_tiny_manifest
from training.landmarks import FaceLandmarks

FACE_CLIP_FRAMES = 12


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny manifest (tests/training/tiny.py), built once per session."""
    return make_tiny_manifest(tmp_path_factory.mktemp("tinydata"))


@pytest.fixture(scope="session")
def face_clip() -> tuple[list[np.ndarray], list[FaceLandmarks | None]]:
    """The first frames of carphone as aligned 128-px crops with their FaceMesh landmarks."""
    import av

    from realtime.crop import CropSpec, align_face
    from realtime.faces import FaceDetector
    from realtime.tracker import FaceTracker
    from training.landmarks import CropLandmarker

    spec = CropSpec()
    crops: list[np.ndarray] = []
    marks: list[FaceLandmarks | None] = []
    tracker = FaceTracker()
    with (
        av.open(str(carphone_path())) as container,
        FaceDetector("full") as detector,
        CropLandmarker(spec) as landmarker,
    ):
        for i, frame in enumerate(container.decode(video=0)):
            rgb = frame.to_ndarray(format="rgb24")
            seen = tracker.update(detector(rgb), i / 30.0)
            assert len(seen) == 1, f"frame {i}: expected one face, got {len(seen)}"
            track = seen[0][0]
            crops.append(align_face(rgb, track.keypoints, spec))
            marks.append(landmarker.from_frame(rgb, track.keypoints))
            if len(crops) == FACE_CLIP_FRAMES:
                break
    assert sum(m is not None for m in marks) >= FACE_CLIP_FRAMES - 1, "FaceMesh should find the carphone face"
    return crops, marks
