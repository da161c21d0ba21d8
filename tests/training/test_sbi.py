"""Self-blending on real aligned face crops (carphone_pristine.mp4 through the real MediaPipe detector)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from realtime.crop import CropSpec
from tests.training.conftest import FACE_CLIP_FRAMES as N_FRAMES
from training.landmarks import FaceLandmarks
from training.sbi import (
    SblParams,
    blend_mask,
    clip_frame_params,
    sample_params,
    self_blend,
    self_blend_clip,
    template_ellipse_mask,
)


def hull_distance(size: int, landmarks: FaceLandmarks, params: SblParams) -> np.ndarray:
    """Pixel distance to the landmark region that the mask should be built from."""
    from training.landmarks import inner_face_points

    pts = inner_face_points(landmarks.points) if params.mask_region == "inner" else landmarks.oval
    inside = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.round(pts).astype(np.int32)), 255)
    return cv2.distanceTransform(255 - inside, cv2.DIST_L2, 5)


def test_landmarks_lie_on_the_aligned_face(face_clip) -> None:
    crops, marks = face_clip
    lm = next(m for m in marks if m is not None)
    assert lm.points.shape == (468, 2) and lm.oval.shape == (36, 2)
    template = CropSpec().template()
    # The oval surrounds the template eyes and mouth (alignment and the 2x mapping agree).
    hull = cv2.convexHull(lm.oval.astype(np.float32))
    for x, y in template:
        assert cv2.pointPolygonTest(hull, (float(x), float(y)), True) > 5


def test_landmarks_from_an_existing_crop_agree_with_the_frame_path(face_clip) -> None:
    from training.landmarks import CropLandmarker

    crops, marks = face_clip
    with CropLandmarker(CropSpec()) as landmarker:
        from_crop = landmarker.from_crop(crops[0])
        with pytest.raises(ValueError, match="128-px crop"):
            landmarker.from_crop(np.zeros((64, 64, 3), np.uint8))
    assert from_crop is not None and marks[0] is not None
    error = np.linalg.norm(from_crop.points - marks[0].points, axis=1).mean()
    assert error < 3.0, f"crop-path landmarks are {error:.1f} px off the frame path"


def test_shapes_dtypes_and_mask_range(face_clip) -> None:
    crops, marks = face_clip
    rng = np.random.default_rng(1)
    for i in range(N_FRAMES):
        fake, mask = self_blend(crops[i], marks[i], sample_params(rng, 128))
        assert fake.shape == (128, 128, 3) and fake.dtype == np.uint8
        assert mask.shape == (128, 128) and mask.dtype == np.float32
        assert mask.min() >= 0.0 and mask.max() <= 1.0 + 1e-6
        assert mask.max() >= 0.25 - 1e-6


def test_mask_is_confined_to_the_face_and_fake_differs_only_there(face_clip) -> None:
    crops, marks = face_clip
    crop, lm = crops[3], marks[3]
    assert lm is not None
    rng = np.random.default_rng(7)
    for _ in range(20):
        params = dataclasses.replace(sample_params(rng, 128), blend_ratio=1.0, filter_kind="none")
        fake, mask = self_blend(crop, lm, params)
        dist = hull_distance(128, lm, params)
        reach = max(params.mask_morph, 0) + 4 * params.mask_blur + 3
        assert mask[dist > reach].max(initial=0.0) == 0.0, "mask leaks far outside the face hull"
        far = mask == 0
        assert far.sum() > 128 * 128 * 0.2, "a face mask should leave the background alone"
        assert np.array_equal(fake[far], crop[far]), "pixels outside the mask must stay real"
        core = mask > 0.9
        assert core.sum() > 500
        diff = np.abs(fake.astype(np.int16) - crop.astype(np.int16))[core].mean()
        assert diff > 1.0, f"fake barely differs inside the mask ({diff:.2f})"


def test_without_landmarks_uses_template_ellipse(face_clip) -> None:
    crops, _ = face_clip
    params = dataclasses.replace(sample_params(np.random.default_rng(3), 128), mask_morph=0, blend_ratio=1.0)
    fake, mask = self_blend(crops[0], None, params)
    ellipse = template_ellipse_mask(128) > 0
    eyes_and_mouth = np.round(CropSpec().template()).astype(int)
    for x, y in eyes_and_mouth:
        assert ellipse[y, x] and mask[y, x] > 0.5
    assert mask[0, 0] == 0 and mask[127, 127] == 0
    assert np.array_equal(fake[mask == 0], crops[0][mask == 0])


def test_deterministic_given_seed(face_clip) -> None:
    crops, marks = face_clip
    a_f, a_m = self_blend_clip(crops, marks, np.random.default_rng(42), jitter=0.5)
    b_f, b_m = self_blend_clip(crops, marks, np.random.default_rng(42), jitter=0.5)
    c_f, _ = self_blend_clip(crops, marks, np.random.default_rng(43), jitter=0.5)
    assert all(np.array_equal(x, y) for x, y in zip(a_f, b_f, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a_m, b_m, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a_f, c_f, strict=True))


def test_clip_parameters_are_temporally_consistent(face_clip) -> None:
    crops, marks = face_clip
    steady = clip_frame_params(N_FRAMES, np.random.default_rng(5), 128, jitter=0.0)
    assert all(p == steady[0] for p in steady)
    wobbly = clip_frame_params(N_FRAMES, np.random.default_rng(5), 128, jitter=1.0)
    assert len({p.blend_ratio for p in wobbly}) > 1 and len({p.hue_shift for p in wobbly}) > 1
    # self_blend_clip uses exactly these per-frame parameters for the same rng state.
    fakes, masks = self_blend_clip(crops, marks, np.random.default_rng(5), jitter=1.0)
    for i in (0, N_FRAMES - 1):
        want_fake, want_mask = self_blend(crops[i], marks[i], wobbly[i])
        assert np.array_equal(fakes[i], want_fake) and np.array_equal(masks[i], want_mask)

    # Without jitter, mask changes frame to frame only as much as the face moves in the crop;
    # with jitter it flickers more.
    def flicker(ms: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(a - b).mean() for a, b in zip(ms[:-1], ms[1:], strict=True)]))

    _, steady_masks = self_blend_clip(crops, marks, np.random.default_rng(5), jitter=0.0)
    assert flicker(masks) > flicker(steady_masks)


def test_missing_frame_landmarks_borrow_a_neighbour(face_clip) -> None:
    crops, marks = face_clip
    holes = list(marks)
    holes[4] = None
    params = dataclasses.replace(sample_params(np.random.default_rng(9), 128), blend_ratio=1.0)
    _, masks = self_blend_clip(crops, holes, np.random.default_rng(0), params=params)
    neighbour = blend_mask(128, marks[3] if marks[3] is not None else marks[5], params)
    assert np.abs(masks[4] - neighbour).mean() < 0.01
