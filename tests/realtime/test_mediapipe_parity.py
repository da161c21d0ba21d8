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
SHIPPED = Path(__file__).parents[2] / "engines" / "weights" / "callshield.onnx"


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def frames(carphone_frames: list[np.ndarray]) -> list[np.ndarray]:
    return [cv2.resize(f, (352, 288), interpolation=cv2.INTER_LINEAR) for f in carphone_frames]


@pytest.mark.parametrize("model", ["full", "short"])
def test_detections_match_mediapipe_0_10_21(model: str, reference: dict, frames: list[np.ndarray]) -> None:
    from engines.artifact import read_onnx_meta
    from realtime.crop import align_face, crop_matrix, transform_points
    from realtime.faces import FaceDetector

    spec = read_onnx_meta(SHIPPED).crop  # the shipped model's own crop
    expected = reference["detections"][model]
    keypoint_error, box_error, keypoint_px, crop_px, crop_shift = [], [], [], [], []
    with FaceDetector(model) as detector:
        for frame, want in zip(frames, expected, strict=True):
            got = detector(frame)
            assert len(got) == len(want) == 1
            width = want[0]["box"][2] - want[0]["box"][0]
            want_keypoints = np.array(want[0]["keypoints"], np.float32)
            keypoint_error.append(np.abs(got[0].keypoints - want_keypoints).max() / width)
            box_error.append(np.abs(got[0].box - np.array(want[0]["box"])).max() / width)
            keypoint_px.append(np.linalg.norm(got[0].keypoints - want_keypoints, axis=1).mean())
            assert abs(got[0].score - want[0]["score"]) < 0.05
            # what the model sees: the aligned crop from these keypoints against 0.10.21's
            ours, theirs = align_face(frame, got[0].keypoints, spec), align_face(frame, want_keypoints, spec)
            crop_px.append(np.abs(ours.astype(np.int16) - theirs.astype(np.int16)).mean())
            corners = np.array([[0, 0], [spec.size, 0], [0, spec.size], [spec.size, spec.size]], np.float32)
            to_frame = np.linalg.inv(np.vstack([crop_matrix(want_keypoints, spec), [0, 0, 1]]))[:2]
            moved = transform_points(transform_points(corners, to_frame), crop_matrix(got[0].keypoints, spec))
            crop_shift.append(np.linalg.norm(moved - corners, axis=1).mean())
    api = detector.api
    print(f"{model} ({api}): keypoints mean {np.mean(keypoint_error):.4f} max {np.max(keypoint_error):.4f}"
          f" of the face width (mean {np.mean(keypoint_px):.2f} px at 352x288); boxes mean"
          f" {np.mean(box_error):.4f} max {np.max(box_error):.4f}; {spec.size}-px crop corners move"
          f" {np.mean(crop_shift):.2f} px (max {np.max(crop_shift):.2f}), pixels differ by"
          f" {np.mean(crop_px):.2f} of 255 on average")  # fmt: skip
    assert np.mean(keypoint_error) < 0.02 and np.max(keypoint_error) < 0.08
    assert np.mean(box_error) < 0.03 and np.max(box_error) < 0.10
    assert np.mean(crop_shift) < 1.5


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
