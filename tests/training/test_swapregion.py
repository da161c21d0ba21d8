"""The per-cell swap-region loss: where a fake is fake, on the encoder's own feature cells."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.landmarks import FaceLandmarks  # noqa: E402
from training.models import create_detector  # noqa: E402
from training.swapregion import cell_targets, face_region  # noqa: E402
from training.train import region_loss  # noqa: E402

FaceClip = tuple[list[np.ndarray], list[FaceLandmarks | None]]


def test_face_region_covers_the_face_and_not_the_corners(face_clip: FaceClip) -> None:
    crops, marks = face_clip
    mark = next(m for m in marks if m is not None)
    region = face_region(mark.points, crops[0].shape[0])
    assert region is not None and region.dtype == np.float32 and set(np.unique(region)) == {0.0, 1.0}
    size = crops[0].shape[0]
    assert region[size // 2, size // 2] == 1  # the aligned crop centres the face
    assert region[:6, :6].sum() == 0 and region[-6:, -6:].sum() == 0
    assert 0.3 < region.mean() < 0.9
    assert face_region(None, size) is None
    assert face_region(np.full((468, 2), np.nan, np.float32), size) is None


def test_cell_targets_are_the_share_of_each_cell_covered() -> None:
    region = np.zeros((128, 128), np.float32)
    region[:, 64:] = 1  # the right half
    region[:32, 64:96] = 0  # minus the top-left quarter of one cell of a 2x2 grid
    shares = cell_targets(region, (2, 2))
    np.testing.assert_allclose(shares, [[0.0, 0.75], [0.0, 1.0]], atol=1e-6)
    assert cell_targets(region, (4, 4)).shape == (4, 4)


def test_region_loss_follows_the_flip_and_skips_unknown_regions() -> None:
    region = np.zeros((128, 128), np.float32)
    region[:, :64] = 1  # fake on the left of the crop as stored
    logits = torch.full((2, 4, 4), -8.0)
    logits[:, :, 2:] = 8.0  # the network says: fake on the right
    flipped = region_loss(logits, [region, None], [True, False])
    unflipped = region_loss(logits, [region, None], [False, False])
    assert flipped.item() < 0.01 < 1.0 < unflipped.item()
    assert region_loss(logits, [None, None], [False, False]).item() == 0.0


@pytest.mark.parametrize("name", ["mnv2_pool", "mnv2l7_pool"])
def test_frame_logit_is_the_mean_of_the_cell_logits(name: str) -> None:
    """So a per-cell loss shapes the very score the runtime computes."""
    model = create_detector(name).eval()
    crops = torch.randn(3, 3, 128, 128)
    with torch.no_grad():
        features, cells = model.encode_cells(crops)
        np.testing.assert_allclose(features.numpy(), model.encode(crops).numpy(), atol=1e-5)
        frame_logit = model.frame_classifier(features).squeeze(1)
    assert cells.shape[0] == 3 and cells.shape[1] == cells.shape[2] > 1
    np.testing.assert_allclose(cells.mean(dim=(1, 2)).numpy(), frame_logit.numpy(), atol=1e-5)
