"""MediaPipe face detection (the bundled 0.10.21 models) on real face video."""

from __future__ import annotations

import numpy as np
import pytest


def test_carphone_face_found_in_every_frame(carphone_frames, face_detector) -> None:
    counts = [len(face_detector(frame)) for frame in carphone_frames]
    assert counts == [1] * len(carphone_frames)


def test_detection_geometry_is_in_pixels(carphone_frames, face_detector) -> None:
    det = face_detector(carphone_frames[60])[0]
    x0, y0, x1, y1 = det.box
    assert 0 <= x0 < x1 <= 176 and 0 <= y0 < y1 <= 144 and det.width > 30
    assert det.keypoints.shape == (6, 2)
    eyes_nose_mouth = det.keypoints[:4]
    assert np.all((eyes_nose_mouth[:, 0] > x0) & (eyes_nose_mouth[:, 0] < x1))
    assert np.all((eyes_nose_mouth[:, 1] > y0) & (eyes_nose_mouth[:, 1] < y1))
    right_eye, left_eye, nose, mouth = eyes_nose_mouth
    assert right_eye[0] < left_eye[0] and nose[1] > right_eye[1] and mouth[1] > nose[1]
    assert 0.5 <= det.score <= 1.0


def test_no_face_in_a_black_frame(face_detector) -> None:
    assert face_detector(np.zeros((144, 176, 3), np.uint8)) == []


def test_wrong_frame_type_is_refused(face_detector) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        face_detector(np.zeros((144, 176), np.uint8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        face_detector(np.zeros((144, 176, 3), np.float32))
