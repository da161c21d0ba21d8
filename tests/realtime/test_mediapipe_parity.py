"""The face path on this machine's mediapipe against what mediapipe 0.10.21 itself answered.

The shipped detector was trained on crops aligned from 0.10.21's BlazeFace keypoints (and blended
with masks from its face mesh). ``tests/data/mediapipe_0.10.21_carphone.json`` holds that release's
own detections on every carphone frame (352x288) and its 468 mesh points on four of them, recorded
by ``tests/data/record_mediapipe_0.10.21.py``. Whatever API runs here (the 0.10.21 graph, or the
Tasks API and the ONNX mesh on later releases), the same faces must come out at nearly the same
points: tolerances are a few times what was measured (see BENCHMARKS.md), well under what moves a
128-px crop by a pixel on average.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

REFERENCE = Path(__file__).parents[1] / "data" / "mediapipe_0.10.21_carphone.json"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def frames(carphone_frames: list[np.ndarray]) -> list[np.ndarray]:
    return [cv2.resize(f, (352, 288), interpolation=cv2.INTER_LINEAR) for f in carphone_frames]


@pytest.mark.parametrize("model", ["full", "short"])
def test_detections_match_mediapipe_0_10_21(model: str, reference: dict, frames: list[np.ndarray]) -> None:
    from realtime.faces import FaceDetector

    expected = reference["detections"][model]
    keypoint_error, box_error = [], []
    with FaceDetector(model) as detector:
        for frame, want in zip(frames, expected, strict=True):
            got = detector(frame)
            assert len(got) == len(want) == 1
            width = want[0]["box"][2] - want[0]["box"][0]
            keypoint_error.append(np.abs(got[0].keypoints - np.array(want[0]["keypoints"])).max() / width)
            box_error.append(np.abs(got[0].box - np.array(want[0]["box"])).max() / width)
            assert abs(got[0].score - want[0]["score"]) < 0.05
    api = detector.api
    print(f"{model} ({api}): keypoints mean {np.mean(keypoint_error):.4f} max {np.max(keypoint_error):.4f}"
          f" of the face width; boxes mean {np.mean(box_error):.4f} max {np.max(box_error):.4f}")  # fmt: skip
    assert np.mean(keypoint_error) < 0.02 and np.max(keypoint_error) < 0.08
    assert np.mean(box_error) < 0.03 and np.max(box_error) < 0.10


def test_face_mesh_matches_mediapipe_0_10_21(reference: dict, frames: list[np.ndarray]) -> None:
    from training.landmarks import CropLandmarker

    errors = []
    with CropLandmarker() as landmarker:
        for index, want in reference["mesh"].items():
            got = landmarker._detect(np.ascontiguousarray(frames[int(index)]))
            assert got, f"no mesh on frame {index}"
            points = np.array(got[0][:468]) * [352, 288]
            want_points = np.array(want)
            width = np.ptp(want_points[:, 0])
            errors.append(np.linalg.norm(points - want_points, axis=1).mean() / width)
    print(f"mesh: mean point error {np.mean(errors):.4f} of the face width")
    assert max(errors) < 0.015
