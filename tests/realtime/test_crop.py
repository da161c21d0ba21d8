"""The shared face-crop contract on real MediaPipe keypoints of carphone."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.crop import CropSpec, align_face, crop_matrix, face_scale_px, transform_points


def test_keypoints_land_on_the_template(carphone_frames, face_detector) -> None:
    spec = CropSpec(size=128, scale=1.1)
    for frame in carphone_frames[::20]:
        kps = face_detector(frame)[0].keypoints
        mapped = transform_points(kps[:4], crop_matrix(kps, spec))
        assert np.abs(mapped - spec.template()).max() < 6.0  # a similarity cannot fit 4 points exactly
        eyes = mapped[:2]
        assert abs(eyes[0, 1] - eyes[1, 1]) < 3.0  # the crop is levelled


def test_crop_is_invariant_to_rotating_and_scaling_the_frame(carphone_frames, face_detector) -> None:
    import cv2

    spec = CropSpec(size=128)
    frame = carphone_frames[0]
    kps = face_detector(frame)[0].keypoints
    turn = cv2.getRotationMatrix2D((88, 72), 20, 1.5)
    turn[:, 2] += (40, 40)
    turned = cv2.warpAffine(frame, turn, (256, 224))
    a = align_face(frame, kps, spec).astype(float)
    b = align_face(turned, transform_points(kps, turn), spec).astype(float)
    inner = (slice(32, 96), slice(32, 96))
    assert np.abs(a[inner] - b[inner]).mean() < 8.0
    assert face_scale_px(transform_points(kps, turn)) == pytest.approx(1.5 * face_scale_px(kps), rel=1e-6)


def test_spec_round_trips_and_keys_differ_by_geometry() -> None:
    spec = CropSpec(size=112, scale=1.3)
    assert CropSpec.from_dict(spec.to_dict()) == spec
    assert spec.key() != CropSpec().key() and spec.key() == CropSpec(112, 1.3).key()


def test_too_few_keypoints_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        crop_matrix(np.zeros((3, 2)), CropSpec())
