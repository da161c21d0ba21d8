"""Decoder-rendered pseudo-fakes (training.render): the autoencoder learns, the paste stays in the face."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.render import (  # noqa: E402
    FaceAutoencoder,
    load_autoencoder,
    reconstruct,
    rendered_fake,
    save_autoencoder,
    train_autoencoder,
)


def _l1(model: FaceAutoencoder, crops: np.ndarray) -> float:
    return float(np.abs(reconstruct(model, crops).astype(np.float32) - crops.astype(np.float32)).mean())


def test_the_renderer_learns_the_faces_it_is_trained_on(face_clip) -> None:
    crops = np.stack(face_clip[0])
    torch.manual_seed(0)
    untrained = FaceAutoencoder().eval()
    torch.manual_seed(0)
    trained = train_autoencoder(crops, 60, np.random.default_rng(0), batch=8, lr=2e-3, progress=False)
    assert _l1(trained, crops) < 0.6 * _l1(untrained, crops)
    # the training draw must not flip the caller's crops in place
    assert np.array_equal(crops, np.stack(face_clip[0]))


def test_reconstruct_keeps_shape_and_dtype(face_clip) -> None:
    crops = np.stack(face_clip[0][:3])
    out = reconstruct(FaceAutoencoder().eval(), crops, batch=2)
    assert out.shape == crops.shape and out.dtype == np.uint8


def test_a_rendered_fake_changes_the_face_and_nothing_outside_its_mask(face_clip) -> None:
    crops, marks = face_clip
    k = next(i for i, m in enumerate(marks) if m is not None)
    crop = crops[k]
    rendering = np.full_like(crop, 128)  # a flat rendering: every pasted pixel differs from the crop
    fake, mask = rendered_fake(crop, rendering, marks[k].points, np.random.default_rng(1))
    assert mask.shape == crop.shape[:2] and mask.min() >= 0.0 and mask.max() <= 1.0
    assert 0.05 < mask.mean() < 0.9  # the face region, not the whole crop
    untouched = mask == 0
    assert np.array_equal(fake[untouched], crop[untouched])
    inside = mask > 0.9
    assert np.abs(fake[inside].astype(int) - crop[inside].astype(int)).mean() > 5


def test_a_saved_renderer_loads_with_the_same_weights(tmp_path, face_clip) -> None:
    model = FaceAutoencoder().eval()
    path = tmp_path / "renderer.pt"
    save_autoencoder(model, path)
    crops = np.stack(face_clip[0][:2])
    assert np.array_equal(reconstruct(load_autoencoder(path), crops), reconstruct(model, crops))
    assert [p.name for p in tmp_path.iterdir()] == ["renderer.pt"]  # no temp file left beside it


def test_no_crops_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no real crops"):
        train_autoencoder(np.zeros((0, 128, 128, 3), np.uint8), 1, np.random.default_rng(0))
