"""The detection planner (realtime.tiling): tile geometry and which passes each frame gets.

Pure geometry and bookkeeping, no MediaPipe: what the real detector makes of the plans is tested in
test_session.py on galleries built from the carphone clip.
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces import Detection
from realtime.tiling import (
    DISCOVER_EVERY,
    MOSAIC_CELL,
    PROBE_EVERY,
    AutoTiler,
    DetectPlan,
    build_mosaics,
    cut_by_tile,
    gallery_tiles,
    read_mosaic,
    tile_grid,
)

H, W = 540, 960  # a 1280x720 call view after DETECT_MAX_SIDE downscaling


def _box(cx: float, cy: float, size: float) -> np.ndarray:
    return np.array([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], np.float32)


def _gallery_boxes(n: int = 3) -> list[np.ndarray]:
    """Face boxes of an n x n gallery at 960x540: ~0.17 of the short side, as measured on 3x3."""
    cw, ch = W / n, H / n
    return [_box((c + 0.5) * cw, (r + 0.5) * ch, 0.17 * H * 3 / n) for r in range(n) for c in range(n)]


def _covers(tiles: list[tuple[int, int, int, int]], height: int, width: int) -> bool:
    mask = np.zeros((height, width), bool)
    for x, y, w, h in tiles:
        mask[y : y + h, x : x + w] = True
    return bool(mask.all())


@pytest.mark.parametrize(
    ("height", "width", "level", "count"),
    [(540, 960, 1, 2), (540, 960, 2, 6), (480, 640, 1, 4), (480, 480, 1, 4), (960, 540, 1, 2)],
)
def test_gallery_tiles_are_squarish_cover_the_frame_and_overlap(height, width, level, count) -> None:
    tiles = gallery_tiles(height, width, level)
    assert len(tiles) == count
    assert _covers(tiles, height, width)
    for _, _, w, h in tiles:
        assert 0.7 < w / h < 1.4  # the model's input is square: little of it is letterbox
    # neighbours overlap by at least a fifth of a tile, so a face that small is whole in one
    xs = sorted({x for x, _, _, _ in tiles})
    if len(xs) > 1:
        assert xs[0] + tiles[0][2] - xs[1] >= 0.2 * tiles[0][2]


def test_square_grid_keeps_its_old_shape() -> None:
    tiles = tile_grid(480, 640, 2)
    assert len(tiles) == 4 and _covers(tiles, 480, 640)
    assert tile_grid(100, 100, 1) == [(0, 0, 100, 100)]
    assert len(tile_grid(540, 960, 2, cols=3)) == 6


def test_detections_touching_an_inner_tile_edge_are_cut_faces() -> None:
    left = gallery_tiles(H, W, 1)[0]  # x 0-549: its right edge is inside the frame
    assert cut_by_tile(np.array([480, 100, 549, 180], np.float32), left, H, W)
    assert not cut_by_tile(np.array([400, 100, 480, 180], np.float32), left, H, W)
    # the frame's own borders cut nothing the full frame would not cut too
    assert not cut_by_tile(np.array([0, 0, 60, 60], np.float32), left, H, W)


def test_one_big_face_gets_the_full_pass_and_a_tile_only_every_probe_period() -> None:
    tiler = AutoTiler()
    face = [_box(480, 270, 260)]  # a webcam face: half the frame's height
    plans = [tiler.plan(H, W, face) for _ in range(4 * PROBE_EVERY)]
    assert all(p.full and not p.gallery and not p.rois for p in plans)
    probes = [i for i, p in enumerate(plans) if p.tiles]
    assert probes == list(range(0, 4 * PROBE_EVERY, PROBE_EVERY))
    # the probes take the tiles in turn, so every part of the frame is searched
    assert [plans[i].tiles for i in probes] == [(t,) for t in gallery_tiles(H, W, 1)] * 2
    assert sum(p.passes for p in plans) == len(plans) + len(probes)


def test_a_gallery_is_redetected_in_one_mosaic_pass_and_discovered_in_turn() -> None:
    tiler = AutoTiler()
    boxes = _gallery_boxes(3)
    tiler.plan(H, W, [_box(480, 270, 300)])  # frame 0: one big face, not a gallery
    first, *plans = [tiler.plan(H, W, boxes) for _ in range(6 * DISCOVER_EVERY)]
    left, right = gallery_tiles(H, W, 1)
    # entering gallery mode: every tile once, for the faces the whole-frame pass missed
    assert first.gallery and first.tiles == (left, right) and not first.full
    assert all(p.gallery and len(p.rois) == 9 for p in plans)
    discovering = [p for p in plans if p.full or p.tiles]
    assert all(p.passes == 1 for p in plans if p not in discovering)  # otherwise: one mosaic
    assert [i for i, p in enumerate(plans, 2) if p in discovering] == list(
        range(DISCOVER_EVERY, 6 * DISCOVER_EVERY + 1, DISCOVER_EVERY)
    )
    # discovery goes round the whole frame (full-range) and each tile (short-range), one a time
    turns = [(p.full, p.tiles) for p in discovering]
    assert sorted(turns[:3]) == [(False, (left,)), (False, (right,)), (True, ())]
    assert turns[3:] == turns[:3] and all(p.passes == 2 for p in discovering)
    assert tiler.level == 1


def test_smaller_gallery_faces_get_finer_discovery_tiles_with_hysteresis() -> None:
    tiler = AutoTiler()
    tiler.plan(H, W, _gallery_boxes(3))
    assert tiler.level == 1
    five = _gallery_boxes(5)  # 0.10 of the short side: too small for a 549 px tile
    tiler.plan(H, W, five)
    assert tiler.level == 2
    # just big enough for level 1 again: stays at 2 until clearly bigger
    just = [_box(*(((b[:2] + b[2:]) / 2).tolist()), 0.115 * 549) for b in five]
    tiler.plan(H, W, just)
    assert tiler.level == 2
    tiler.plan(H, W, _gallery_boxes(3))
    assert tiler.level == 1


def test_gallery_mode_has_hysteresis_and_ends_without_faces() -> None:
    tiler = AutoTiler()
    tiler.plan(H, W, [_box(480, 270, 0.15 * H)])
    assert tiler.gallery
    tiler.plan(H, W, [_box(480, 270, 0.25 * H)])  # between enter and exit: still a gallery
    assert tiler.gallery
    tiler.plan(H, W, [_box(480, 270, 0.35 * H)])
    assert not tiler.gallery
    tiler.plan(H, W, [_box(480, 270, 0.15 * H)])
    tiler.plan(H, W, [])
    assert not tiler.gallery


def test_mosaic_maps_found_faces_back_and_drops_neighbours_and_cut_faces() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    boxes = [_box(100, 100, 60), _box(700, 400, 90), _box(300, 300, 40)]
    (mosaic,) = build_mosaics(image, boxes)
    assert mosaic.grid == 2 and mosaic.image.shape == (2 * MOSAIC_CELL, 2 * MOSAIC_CELL, 3)

    def seen_in_cell(k: int, box: np.ndarray, shift: float = 0.0) -> Detection:
        """Where region k's face shows in the mosaic: the box mapped in, moved by ``shift`` px."""
        x0, y0, scale = mosaic.cells[k]
        r, c = divmod(k, mosaic.grid)
        origin = np.array([c * MOSAIC_CELL, r * MOSAIC_CELL] * 2, np.float32)
        mapped = (box - np.array([x0, y0, x0, y0], np.float32)) * scale + origin + shift
        kps = np.tile(mapped[:2], (6, 1)) + 5
        return Detection(box=mapped, keypoints=kps, score=0.9)

    moved = _box(104, 98, 60)  # face 0 moved a little since its box was taken
    found = read_mosaic(
        mosaic,
        [
            seen_in_cell(0, moved),
            seen_in_cell(1, boxes[1], shift=-40.0),  # the neighbour at region 1's edge: too far off
            seen_in_cell(2, _box(300, 300, 40) + np.array([0, 0, 30, 0], np.float32)),  # cut by the cell
        ],
    )
    assert found[1] is None and found[2] is None
    assert found[0] is not None
    np.testing.assert_allclose(found[0].box, moved, atol=1e-3)
    np.testing.assert_allclose(found[0].keypoints[0], moved[:2] + 5 / mosaic.cells[0][2], atol=1e-3)


def test_ten_faces_take_two_mosaics() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    boxes = [_box(50 + 80 * k, 200, 40) for k in range(10)]
    assert [m.grid for m in build_mosaics(image, boxes)] == [3, 1]
    assert [m.grid for m in build_mosaics(image, boxes[:4], max_grid=2)] == [2]
    assert DetectPlan(full=True, rois=tuple(boxes)).passes == 3


def test_periods_must_be_positive() -> None:
    with pytest.raises(ValueError, match="probe_every"):
        AutoTiler(probe_every=0)
