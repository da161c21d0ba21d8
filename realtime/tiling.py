"""Where on a frame the face detector runs: the whole frame, tiles of it, or around known faces.

Why: MediaPipe's face models read a fixed square input (192 px full-range, 128 px short-range), so
a pass costs about the same whatever the image size (~7.5 ms full-range, ~3 ms short-range on 2
cores) and a face's size *inside that input* decides whether it is found and how well its keypoints
sit. In a 3x3 call gallery at 1280x720 a face is ~1/10 of the frame's width, ~19 px of the
full-range input: one pass over the frame finds 7.6-8.4 of 9 per frame (the middle column's faces
are lost on 60-70 % of frames); adding a 2x2 grid of tiles finds all 9, at five full-range passes.

``detect_tiles="auto"`` (:class:`AutoTiler`) plans each frame's passes from what the tracker knows:

- **No small face tracked** (one webcam face, a 2x2 gallery): the one full-range pass over the frame,
  as before, so the one-face path, its keypoints (the training crops' detector) and its cost stay
  as they were. Every ``probe_every``-th frame one tile is searched too (short-range model, tiles in
  turn), to discover faces too small for that pass.
- **A small face tracked** (a gallery): every tracked face is re-detected around its last box: the
  regions are cut out, scaled to 128 px and packed into one mosaic (up to 3x3), searched by ONE
  full-range pass. Each face fills ~40 px of the model's input, about what it would alone in its
  gallery cell, so its keypoints sit closer to that than any tiling gives (the few faces a dense
  mosaic loses are searched again at once in a small short-range mosaic).
  New faces are discovered every ``discover_every``-th frame by one more pass, in turn: the tiles
  (short-range, shaped like the model's square input: two for 16:9) and the whole frame
  (full-range, for big faces). The first frame of a gallery searches every tile.

Every tracked face is searched on every frame, so no track coasts and none counts a miss for a
region nobody looked at. Galleries of smaller faces (4x4, 5x5) get finer discovery tiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.faces import Detection

Region = tuple[int, int, int, int]  # x, y, w, h in the detection image's pixels

# Neighbouring tiles share this fraction of a tile, so a face smaller than that lies whole in one.
TILE_OVERLAP = 0.25
# A tracked face narrower than this fraction of the frame's short side makes the view a gallery
# (3x3 gallery at 720p: 0.14-0.24; 2x2: 0.24-0.30; one webcam face: ~0.5). Leaving gallery mode
# needs every face wider than GALLERY_EXIT, so a face near the line does not flip the mode.
GALLERY_ENTER = 0.2
GALLERY_EXIT = 0.3
# The short-range model finds a face reliably down to ~1/10 of its tile's long side (measured:
# 4x4 gallery at 0.107 -> 15.5 of 16 per frame; 5x5 one level finer at 0.12 -> 25 of 25).
MIN_FACE_IN_TILE = 0.11
# Finer discovery tiles than this take too long to go round (level 2 on 16:9 is 6 tiles).
MAX_AUTO_LEVEL = 2
# Tile detections closer than this fraction of the tile's side to an edge inside the frame are
# faces cut by the tile (a partial box, misplaced keypoints): the face is whole in another pass.
CUT_EDGE = 0.01
# One face alone: a discovery tile every half second at 30 fps (~0.2 ms a frame on average).
PROBE_EVERY = 15
# A gallery: one discovery pass every 4th frame; a 16:9 view's three (whole frame, two tiles)
# come round every 12 frames, so a face joining is found within 0.4 s.
DISCOVER_EVERY = 4
# Re-detection regions: a square ROI_SCALE times the face's box, scaled to a MOSAIC_CELL px cell,
# MOSAIC_GRID x MOSAIC_GRID cells per full-range pass. Measured on two 3x3 galleries against the
# full-range model on each gallery cell alone: keypoints 4.4-4.7 px off at 1.6, 5.7-5.9 at 2.0,
# 6.3-7.3 at 2.5 (every-frame 2x2 tiling: 6.6-6.7). At 1.6 one pass finds all nine on ~90 % of
# frames (the session searches the rest again); a blank gap between cells (smaller faces) lost more.
ROI_SCALE = 1.6
MOSAIC_CELL = 128
MOSAIC_GRID = 3


def tile_grid(
    height: int, width: int, n: int, overlap: float = TILE_OVERLAP, cols: int | None = None
) -> list[Region]:
    """``n`` rows x ``cols`` (default ``n``) tiles covering the frame, neighbours sharing ``overlap``.

    The overlap makes every face small enough to be split by one tile's edge whole in another.
    """
    cols = n if cols is None else cols
    tile_h = min(height, int(np.ceil(height / (n - (n - 1) * overlap))))
    tile_w = min(width, int(np.ceil(width / (cols - (cols - 1) * overlap))))
    ys = np.linspace(0, height - tile_h, n).round().astype(int)
    xs = np.linspace(0, width - tile_w, cols).round().astype(int)
    return [(int(x), int(y), tile_w, tile_h) for y in ys for x in xs]


def gallery_tiles(height: int, width: int, level: int) -> list[Region]:
    """Tiles about as wide as they are high (the model's input is square), finer as ``level`` grows.

    A 16:9 frame at level 1 is two tiles side by side; a 4:3 or square frame starts at 2x2, since
    one tile would be the frame itself. Level 2 on 16:9 is 2 x 3.
    """
    long_side, short_side = max(height, width), min(height, width)
    aspect = long_side / max(short_side, 1)
    across_short = level + (1 if int(aspect + 0.3) < 2 else 0)
    across_long = max(across_short, int(across_short * aspect + 0.3))
    if height <= width:
        return tile_grid(height, width, across_short, cols=across_long)
    return tile_grid(height, width, across_long, cols=across_short)


def cut_by_tile(box: np.ndarray, tile: Region, height: int, width: int) -> bool:
    """Whether a detection in ``tile`` touches one of its edges that lies inside the frame.

    Such a box is a face cut by the tile: part of a face, with keypoints off the real face.
    """
    tx, ty, tw, th = tile
    eps = CUT_EDGE * max(tw, th)
    return bool(
        (tx > 0 and box[0] <= tx + eps)
        or (ty > 0 and box[1] <= ty + eps)
        or (tx + tw < width and box[2] >= tx + tw - eps)
        or (ty + th < height and box[3] >= ty + th - eps)
    )


@dataclass(frozen=True, eq=False)
class DetectPlan:
    """The passes to run on one frame.

    ``full``: the full-range pass over the whole image; ``tiles``: short-range passes on these
    tiles; ``rois``: boxes of tracked faces to re-detect in mosaics (one full-range pass per
    ``MOSAIC_GRID**2``); ``gallery``: a face found by several passes is taken from the re-detection
    (then the tiles, then the whole frame), else from the whole-frame pass, so its keypoints keep
    coming from the same pass frame after frame.
    """

    full: bool
    tiles: tuple[Region, ...] = ()
    rois: tuple[np.ndarray, ...] = ()
    gallery: bool = False

    @property
    def passes(self) -> int:
        """Detector passes this plan runs: the work it costs, whatever else the machine does."""
        return int(self.full) + len(self.tiles) + math.ceil(len(self.rois) / MOSAIC_GRID**2)


class AutoTiler:
    """Plans each frame's detector passes from the tracked faces' boxes (module docstring: why).

    Stateful: it remembers whether the view is a gallery and its discovery tile level (both with
    hysteresis, so a face's keypoints do not switch between passes from one frame to the next), and
    whose turn it is to be searched for new faces. Feed it every frame that runs detection, in order.
    """

    def __init__(self, probe_every: int = PROBE_EVERY, discover_every: int = DISCOVER_EVERY) -> None:
        if probe_every < 1 or discover_every < 1:
            raise ValueError(
                f"probe_every and discover_every must be >= 1, got {probe_every}, {discover_every}"
            )
        self.probe_every = probe_every
        self.discover_every = discover_every
        self.reset()

    def reset(self) -> None:
        """Forget the view (call between unrelated videos)."""
        self.gallery = False
        self.level = 1
        self._frames = 0
        self._turn = 0

    def plan(self, height: int, width: int, boxes: Sequence[np.ndarray]) -> DetectPlan:
        """The passes for a ``height`` x ``width`` detection image whose tracked faces are ``boxes``.

        ``boxes``: ``(x0, y0, x1, y1)`` of every live track, in the detection image's pixels.
        """
        was_gallery = self.gallery
        widths = [float(b[2] - b[0]) for b in boxes]
        short_side = min(height, width)
        if not widths:
            self.gallery = False
        elif min(widths) < GALLERY_ENTER * short_side:
            self.gallery = True
        elif min(widths) > GALLERY_EXIT * short_side:
            self.gallery = False
        self.level = self._level_for(height, width, min(widths)) if self.gallery else 1
        tiles = gallery_tiles(height, width, self.level)
        frame = self._frames
        self._frames += 1
        if not self.gallery:
            probe: tuple[Region, ...] = ()
            if frame % self.probe_every == 0:
                probe = (tiles[self._turn % len(tiles)],)
                self._turn += 1
            return DetectPlan(full=True, tiles=probe)
        rois = tuple(np.asarray(b, np.float32) for b in boxes)
        if not was_gallery:  # the whole-frame pass just missed some of these faces: look everywhere
            return DetectPlan(full=False, tiles=tuple(tiles), rois=rois, gallery=True)
        if frame % self.discover_every:
            return DetectPlan(full=False, rois=rois, gallery=True)
        rotation: list[Region | None] = [None, *tiles]  # None: the full-range pass over the frame
        pick = rotation[self._turn % len(rotation)]
        self._turn += 1
        if pick is None:
            return DetectPlan(full=True, rois=rois, gallery=True)
        return DetectPlan(full=False, tiles=(pick,), rois=rois, gallery=True)

    def _level_for(self, height: int, width: int, smallest: float) -> int:
        """The coarsest tile level whose tiles show the smallest face big enough to find.

        Goes finer at once (a face is being lost) but coarser only once the face is a quarter
        larger than the coarser level needs, so a face near the line keeps one level.
        """

        def fits(level: int, margin: float) -> bool:
            _, _, w, h = gallery_tiles(height, width, level)[0]
            return smallest >= margin * MIN_FACE_IN_TILE * max(w, h)

        level = 1
        while level < MAX_AUTO_LEVEL and not fits(level, 1.0):
            level += 1
        if level < self.level and not fits(level, 1.25):
            level = self.level
        return level


@dataclass(frozen=True, eq=False)
class Mosaic:
    """Regions around tracked faces, each scaled into one cell of a square image.

    ``cells[k] = (x0, y0, scale)``: region k's top-left corner in the source image and the scale
    from source pixels to cell pixels; region k sits in row ``k // grid``, column ``k % grid``.
    """

    image: np.ndarray
    grid: int
    cells: tuple[tuple[float, float, float], ...]


def build_mosaics(
    image: np.ndarray, boxes: Sequence[np.ndarray], max_grid: int = MOSAIC_GRID
) -> list[Mosaic]:
    """Pack the square regions around ``boxes`` into as few mosaics of ``max_grid**2`` as hold them.

    Each region is ``ROI_SCALE`` times its box's larger side, centred on it (a face moves a few
    pixels between frames, well inside that margin); parts outside the image are black.
    """
    per = max_grid**2
    mosaics = []
    for start in range(0, len(boxes), per):
        chunk = boxes[start : start + per]
        grid = max(1, math.ceil(math.sqrt(len(chunk))))
        canvas = np.zeros((grid * MOSAIC_CELL, grid * MOSAIC_CELL, 3), np.uint8)
        cells = []
        for k, box in enumerate(chunk):
            side = ROI_SCALE * max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
            x0 = (float(box[0]) + float(box[2]) - side) / 2
            y0 = (float(box[1]) + float(box[3]) - side) / 2
            scale = MOSAIC_CELL / side
            warp = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], np.float32)
            top, left = (k // grid) * MOSAIC_CELL, (k % grid) * MOSAIC_CELL
            canvas[top : top + MOSAIC_CELL, left : left + MOSAIC_CELL] = cv2.warpAffine(
                image, warp, (MOSAIC_CELL, MOSAIC_CELL), flags=cv2.INTER_LINEAR
            )
            cells.append((x0, y0, scale))
        mosaics.append(Mosaic(canvas, grid, tuple(cells)))
    return mosaics


def read_mosaic(mosaic: Mosaic, detections: Sequence[Detection]) -> list[Detection | None]:
    """Per region, the face found near its cell's centre, in source-image pixels (None: not found).

    A region is centred on where its face was, so a detection far off the cell's centre is a
    neighbour's face showing at the region's edge, and one cut by the cell's edge is partial.
    """
    found: list[tuple[float, Detection] | None] = [None] * len(mosaic.cells)
    margin = CUT_EDGE * MOSAIC_CELL
    for det in detections:
        cx, cy = (det.box[0] + det.box[2]) / 2, (det.box[1] + det.box[3]) / 2
        col, row = int(cx // MOSAIC_CELL), int(cy // MOSAIC_CELL)
        k = row * mosaic.grid + col
        if not (0 <= col < mosaic.grid and 0 <= row < mosaic.grid) or k >= len(mosaic.cells):
            continue
        x_min, y_min = col * MOSAIC_CELL + margin, row * MOSAIC_CELL + margin
        x_max, y_max = (col + 1) * MOSAIC_CELL - margin, (row + 1) * MOSAIC_CELL - margin
        cut = det.box[0] <= x_min or det.box[1] <= y_min or det.box[2] >= x_max or det.box[3] >= y_max
        off_centre = math.hypot(cx - (col + 0.5) * MOSAIC_CELL, cy - (row + 0.5) * MOSAIC_CELL)
        if cut or off_centre > MOSAIC_CELL / 4:
            continue
        best = found[k]
        if best is None or off_centre < best[0]:
            x0, y0, scale = mosaic.cells[k]
            origin = np.array([col * MOSAIC_CELL, row * MOSAIC_CELL], np.float32)
            shift = np.array([x0, y0], np.float32)
            keypoints = (det.keypoints - origin) / scale + shift
            box = (det.box - np.tile(origin, 2)) / scale + np.tile(shift, 2)
            found[k] = (off_centre, Detection(box=box, keypoints=keypoints, score=det.score))
    return [None if f is None else f[1] for f in found]
