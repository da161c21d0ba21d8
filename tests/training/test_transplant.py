"""Cross-stream transplants on real aligned face crops (carphone through the real MediaPipe models)."""

from __future__ import annotations

import numpy as np
import pytest

from training.landmarks import FaceLandmarks
from training.sbi import sample_params, self_blend
from training.transplant import match_colour, transplant_pair

Clip = tuple[list[np.ndarray], list[FaceLandmarks | None]]


def _donors_and_host(face_clip: Clip) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stand-in swap (a self-blend of frame 0), its twin (frame 0) and a host from another stream:
    frame 6, mirrored and colour-shifted, with its landmarks mirrored to match."""
    crops, marks = face_clip
    twin = crops[0]
    assert marks[0] is not None and marks[6] is not None
    swap, _ = self_blend(twin, marks[0], sample_params(np.random.default_rng(3)))
    host = np.ascontiguousarray(crops[6][:, ::-1])
    host = np.clip(host.astype(np.int16) + np.array([30, -10, -20]), 0, 255).astype(np.uint8)
    mesh = marks[6].points.copy()
    mesh[:, 0] = host.shape[1] - 1 - mesh[:, 0]
    return swap, twin, host, mesh


def test_the_pair_differs_only_where_the_donors_do(face_clip: Clip) -> None:
    swap, twin, host, mesh = _donors_and_host(face_clip)
    fake, real, mask = transplant_pair(swap, twin, host, mesh, np.random.default_rng(0))
    assert fake.shape == real.shape == host.shape and fake.dtype == np.uint8
    untouched = (fake == host).all(axis=2) & (real == host).all(axis=2)
    assert 0.2 < untouched.mean() < 0.9  # the host's own surroundings stay, its face is replaced
    assert mask.shape == host.shape[:2] and untouched[mask == 0].all()  # outside the mask: the host
    face = ~untouched
    # inside the mask the halves differ where the donors do, and carry the donor, not the host
    assert np.abs(fake.astype(int) - real.astype(int))[face].mean() > 1.0
    assert np.abs(real.astype(int) - host.astype(int))[face].mean() > 5.0
    same, same_again, _ = transplant_pair(twin, twin, host, mesh, np.random.default_rng(0))
    assert np.array_equal(same, same_again)  # identical donors: identical halves


def test_a_transplant_takes_the_host_colour(face_clip: Clip) -> None:
    swap, twin, host, mesh = _donors_and_host(face_clip)
    weight = np.zeros(host.shape[:2], np.float32)
    weight[30:100, 30:100] = 1.0
    moved = match_colour(twin, host, weight)
    region = weight > 0
    np.testing.assert_allclose(moved[region].mean(axis=0), host[region].mean(axis=0), atol=0.5)
    np.testing.assert_allclose(moved[region].std(axis=0), host[region].std(axis=0), rtol=0.05)
    assert np.array_equal(match_colour(twin, host, np.zeros_like(weight)), twin.astype(np.float32))


def test_without_landmarks_the_template_ellipse_shapes_the_mask(face_clip: Clip) -> None:
    swap, twin, host, _ = _donors_and_host(face_clip)
    fake, real, _ = transplant_pair(swap, twin, host, None, np.random.default_rng(1))
    changed = ~(fake == host).all(axis=2)
    assert changed[64, 64] and not changed[0, 0] and not changed[127, 127]


def test_crops_of_different_sizes_are_refused(face_clip: Clip) -> None:
    swap, twin, host, mesh = _donors_and_host(face_clip)
    with pytest.raises(ValueError, match="one shape"):
        transplant_pair(swap[:64, :64], twin, host, mesh, np.random.default_rng(0))
