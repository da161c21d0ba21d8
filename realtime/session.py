"""One detector session: frames in, per-face events out, on ONNX Runtime alone (no torch).

:class:`DetectorSession` bundles what scoring a stream needs (the model backend and its metadata,
the MediaPipe face detector, the tracker, per-track feature windows and risk states) and runs the
path of a frame (DESIGN.md)::

    detect -> track -> quality, and align (the model's CropSpec) each face due this frame
    -> ONE encoder call for all those crops -> per-track windows -> ONE head call for every
    track whose window got a new feature -> risk -> events

A face is encoded every ``meta.stride``-th frame it is seen (the frame step between a window's
features in training), so a window spans ``window * stride`` frames, as the head was trained on.

Batching every face of a frame into one encoder call, and every due window into one head call,
keeps a 20-face gallery view at two runtime calls per frame instead of forty.

Both the live pipeline and ``score_video`` use this class, so a file is scored exactly the way a
call would be. Importing or running it never imports torch: the live path must start fast and
run on machines where torch is not installed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engines.artifact import Thresholds
from realtime import face_models
from realtime.crop import align_face
from realtime.errors import UserError
from realtime.events import FaceEvent
from realtime.faces import MODEL_FILES, Detection, FaceDetector
from realtime.native_log import quiet_native_stderr
from realtime.quality import DEFAULT_THRESHOLDS, QualityThresholds, assess_face, quality_crop
from realtime.risk import RiskConfig, TrackRisk
from realtime.tiling import (
    MOSAIC_GRID,
    AutoTiler,
    DetectPlan,
    Region,
    build_mosaics,
    cut_by_tile,
    read_mosaic,
    tile_grid,
)
from realtime.tracker import FaceTracker
from realtime.window import FeatureWindows

# MediaPipe's face models read a 128 or 192 px input: detecting on more than ~960 px only costs time
# (4K frame: ~19 ms direct, ~8 ms after a linear downscale to 960 on two cores). Crops are still
# taken from the full-resolution frame, with the keypoints scaled back up.
DETECT_MAX_SIDE = 960
# A window whose frames were mostly flagged (too dark, too small...) is not trusted.
MIN_WINDOW_GOOD_FRACTION = 0.75
# ``detect_tiles`` value that plans each frame's detector passes from the tracked faces
# (realtime.tiling.AutoTiler); an int N >= 2 searches an N x N grid of tiles on every frame.
AUTO_TILES = "auto"
# Faces the full-range re-detection mosaic missed are searched again, up to 2x2 per short-range pass
# (128 px input: each face ~40 px, as in the 3x3 full-range mosaic).
RETRY_GRID = 2


@dataclass
class StageTimes:
    """Seconds spent per stage on one frame (``decode`` is filled in by the pipeline)."""

    decode: float = 0.0
    detect: float = 0.0
    align: float = 0.0
    encode: float = 0.0
    head: float = 0.0
    risk: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def merge_duplicates(detections: list[Detection], max_overlap: float = 0.5) -> list[Detection]:
    """Keep the most confident of detections that cover the same face.

    Overlap is intersection over the *smaller* box, not IoU: a face cut by a tile edge yields a
    small partial box inside the whole face's box, with a low IoU but full containment.
    """
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(_overlap_of_smaller(det.box, other.box) < max_overlap for other in kept):
            kept.append(det)
    return kept


def _overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    ih = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    smaller = min(float((a[2] - a[0]) * (a[3] - a[1])), float((b[2] - b[0]) * (b[3] - b[1])))
    return iw * ih / smaller if smaller > 0 else 0.0


def merge_passes(
    preferred: list[Detection], others: list[Detection], max_overlap: float = 0.5
) -> list[Detection]:
    """Detections of several passes, one per face: a ``preferred`` one wins over any it overlaps.

    Scores of different models (full- and short-range) are not comparable, and picking the higher
    one would switch a face's keypoints between models from frame to frame (a shaking crop); so
    the pass that sees the face on every frame wins whenever it found it.
    """
    kept = merge_duplicates(preferred, max_overlap)
    for det in merge_duplicates(others, max_overlap):
        if all(_overlap_of_smaller(det.box, other.box) < max_overlap for other in kept):
            kept.append(det)
    return kept


def check_detect_tiles(value: int | str) -> int | str:
    """``"auto"`` or a grid size N >= 1 (1: the whole frame only), else ValueError."""
    if value == AUTO_TILES:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"detect_tiles must be {AUTO_TILES!r} or an int >= 1, got {value!r}")
    return value


def _downscaled(frame: np.ndarray, scale: float) -> np.ndarray:
    """The frame the detector searches: ``scale`` < 1 shrinks it (sizes rounded as boxes are)."""
    if scale >= 1.0:
        return frame
    size = (round(frame.shape[1] * scale), round(frame.shape[0] * scale))
    return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)


def make_face_detector(model: str = "full") -> FaceDetector:
    """A MediaPipe detector, created and run once with its native start-up chatter silenced.

    Its model file is found (or fetched, saying so) first, outside the silenced block.
    """
    face_models.model_path(MODEL_FILES[model])
    with quiet_native_stderr():
        detector = FaceDetector(model)
        detector(np.zeros((64, 64, 3), np.uint8))
    return detector


class DetectorSession:
    """Scores every face of a stream; feed it frames in time order with :meth:`process`."""

    def __init__(
        self,
        backend: Any,
        detector: FaceDetector | None = None,
        tracker: FaceTracker | None = None,
        quality: QualityThresholds = DEFAULT_THRESHOLDS,
        risk: RiskConfig | None = None,
        detect_max_side: int = DETECT_MAX_SIDE,
        detect_tiles: int | str = AUTO_TILES,
        detect_every: int = 1,
        tile_detector: FaceDetector | None = None,
    ) -> None:
        self.backend = backend
        self.meta = backend.meta
        self.detector = detector or make_face_detector("full")
        self.tracker = tracker or FaceTracker()
        self.quality = quality
        self.risk_config = risk or RiskConfig(
            thresholds=self.meta.thresholds, temperature=self.meta.temperature
        )
        self.detect_max_side = detect_max_side
        self.detect_tiles = check_detect_tiles(detect_tiles)
        # auto: discovery tiles and re-detection retries use the short-range model (a third of a
        # full-range pass); made on first use unless given (``load`` makes it warm, so the first
        # frame that needs it is not slow)
        self._tile_detector = tile_detector
        self.tiler = AutoTiler()
        self.last_plan = DetectPlan(full=True)
        self.last_passes = 0  # detector passes the last frame ran: its detection work
        self._passes = 0
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        # Detect on every k-th frame only; in between, tracks coast on their last keypoints (an
        # option: with ``detect_tiles=N`` a 3x3 gallery's tiled search costs ~35 ms a frame).
        self.detect_every = detect_every
        self.windows = FeatureWindows(self.meta.window, self.meta.feature_dim)
        self.risks: dict[int, TrackRisk] = {}
        self._seen: dict[int, int] = {}  # frames each live track has been visible in
        self.frame_index = 0
        self.last_times = StageTimes()

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        backend: str = "auto",
        device: str = "cpu",
        detector_model: str = "full",
        detect_tiles: int | str = AUTO_TILES,
        detect_every: int = 1,
    ) -> DetectorSession:
        """Load a CallShield model (None: the shipped one) and a face detector, warmed up.

        A file that is missing or not a CallShield model raises :class:`UserError` with one line.
        """
        from engines import ModelFileError, load_backend

        try:
            loaded = load_backend(model_path, backend=backend, device=device)
            loaded.warmup()
        except ModelFileError as exc:
            raise UserError(str(exc)) from None
        return cls.from_backend(loaded, detector_model, detect_tiles, detect_every)

    @classmethod
    def from_backend(
        cls,
        backend: Any,
        detector_model: str = "full",
        detect_tiles: int | str = AUTO_TILES,
        detect_every: int = 1,
    ) -> DetectorSession:
        """A session around an already loaded backend, with its own warmed-up face detectors.

        For backends that are not a model file on this machine, such as ``serve --ray``'s
        encoder on a Ray Serve deployment (:mod:`realtime.fleet`).
        """
        detect_tiles = check_detect_tiles(detect_tiles)
        return cls(
            backend,
            detector=make_face_detector(detector_model),
            detect_tiles=detect_tiles,
            detect_every=detect_every,
            tile_detector=make_face_detector("short") if detect_tiles == AUTO_TILES else None,
        )

    @property
    def provider(self) -> str:
        """What actually runs the model (e.g. ``CPUExecutionProvider``), not what was asked for."""
        return str(getattr(self.backend, "provider", "unknown"))

    def set_thresholds(self, thresholds: Thresholds) -> None:
        """Move the decision levels (the overlay's sensitivity) for every track, from the next frame.

        Call it on the thread that runs :meth:`process`. Tracks keep their smoothed risk; only the
        levels their state is decided against change.
        """
        self.risk_config = replace(self.risk_config, thresholds=thresholds)
        for risk in self.risks.values():
            risk.config = self.risk_config

    def start_segment(self) -> None:
        """Forget every track, window and risk, keep counting frames: the stream's clock restarted.

        The pipeline calls it when its :class:`~realtime.timeline.Timeline` opens a new segment
        (a looped file, a restarted sender, a long pause): what was tracked before is stale.
        """
        self.tracker.reset()
        self.tiler.reset()
        self.windows.clear()
        self.risks.clear()
        self._seen.clear()

    def reset(self) -> None:
        """Forget every track: call between unrelated videos."""
        self.start_segment()
        self.frame_index = 0

    def close(self) -> None:
        self.detector.close()
        if self._tile_detector is not None:
            self._tile_detector.close()

    @property
    def tile_detector(self) -> FaceDetector:
        """The short-range detector of ``auto`` mode: discovery tiles, re-detection retries (lazy)."""
        if self._tile_detector is None:
            self._tile_detector = make_face_detector("short")
        return self._tile_detector

    def __enter__(self) -> DetectorSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in full-resolution pixels.

        Large frames are detected on a downscaled copy (keypoints scaled back, crops stay sharp).
        MediaPipe's full-range model misses faces smaller than ~1/10 of the frame's side (a 3x3
        call gallery: 7.6-8.4 of 9 per frame; 5x5: 3 of 25), so it does not search alone:
        ``detect_tiles="auto"`` plans the passes from the tracked faces (:mod:`realtime.tiling`:
        the whole frame while no face is small; in a gallery, one pass over a mosaic of the regions
        around its faces, plus tiles and the whole frame in turn to discover new ones); an int
        N > 1 searches the whole frame and an N x N grid of tiles with the full-range model on
        every frame.
        """
        height, width = frame.shape[:2]
        scale = min(1.0, self.detect_max_side / max(height, width))
        self._passes = 0
        if self.detect_tiles == AUTO_TILES:
            found = self._detect_planned(frame, scale)
        else:
            image = _downscaled(frame, scale)
            found = self._pass(self.detector, image)
            grid = tile_grid(image.shape[0], image.shape[1], int(self.detect_tiles))
            if len(grid) > 1:
                for region in grid:
                    found += self._detect_tile(self.detector, image, region)
                found = merge_duplicates(found)
            tiles = tuple(grid) if len(grid) > 1 else ()
            self.last_plan = DetectPlan(full=True, tiles=tiles)
        self.last_passes = self._passes
        if scale < 1.0:
            found = [
                Detection(box=d.box / scale, keypoints=d.keypoints / scale, score=d.score) for d in found
            ]
        return found

    def _detect_planned(self, frame: np.ndarray, scale: float) -> list[Detection]:
        """``auto``: the passes :class:`AutoTiler` plans from the live tracks, merged one per face.

        Returns detections in the downscaled detection image's pixels, as the other passes do.
        Tracked faces of a gallery are re-detected in mosaics of their regions, cut straight from
        the full-resolution frame (sharper, and most gallery frames then need no downscaled copy
        at all); tile detections of faces cut by the tile's edge are dropped (the face lies whole
        in a neighbouring tile, or in the whole-frame pass).
        """
        height, width = round(frame.shape[0] * scale), round(frame.shape[1] * scale)
        plan = self.tiler.plan(height, width, [track.box * scale for track in self.tracker.tracks])
        self.last_plan = plan
        rois = [box / scale for box in plan.rois]
        again, missed = self._redetect(self.detector, frame, rois, MOSAIC_GRID)
        if missed:
            # the full-range model loses a face of a dense mosaic on ~5-10 % of frames that it finds
            # alone; the short-range model on a small mosaic of just those finds them (+~3 ms)
            found, _ = self._redetect(self.tile_detector, frame, missed, RETRY_GRID)
            again += found
        again = [Detection(box=d.box * scale, keypoints=d.keypoints * scale, score=d.score) for d in again]
        if not (plan.full or plan.tiles):
            return again
        image = _downscaled(frame, scale)
        full = self._pass(self.detector, image) if plan.full else []
        tiled: list[Detection] = []
        for region in plan.tiles:
            tiled += [
                det
                for det in self._detect_tile(self.tile_detector, image, region)
                if not cut_by_tile(det.box, region, height, width)
            ]
        if plan.gallery:
            return merge_passes(merge_passes(again, tiled), full)
        return merge_passes(full, tiled)

    def _redetect(
        self, detector: FaceDetector, image: np.ndarray, boxes: list[np.ndarray], max_grid: int
    ) -> tuple[list[Detection], list[np.ndarray]]:
        """Faces found again around ``boxes`` (mosaics of ``max_grid**2``), and the boxes missed."""
        found: list[Detection] = []
        missed: list[np.ndarray] = []
        for start, mosaic in zip(
            range(0, len(boxes), max_grid**2), build_mosaics(image, boxes, max_grid), strict=True
        ):
            detections = self._pass(detector, mosaic.image)
            chunk = boxes[start : start + len(mosaic.cells)]
            for box, det in zip(chunk, read_mosaic(mosaic, detections), strict=True):
                if det is None:
                    missed.append(box)
                else:
                    found.append(det)
        return found, missed

    def _pass(self, detector: FaceDetector, image: np.ndarray) -> list[Detection]:
        """One detector pass, counted in ``last_passes`` (work that does not depend on machine load)."""
        self._passes += 1
        return list(detector(image))

    def _detect_tile(self, detector: FaceDetector, image: np.ndarray, region: Region) -> list[Detection]:
        """Detections in one tile of ``image``, in the image's pixels."""
        x, y, w, h = region
        offset = np.array([x, y], np.float32)
        return [
            Detection(box=det.box + np.tile(offset, 2), keypoints=det.keypoints + offset, score=det.score)
            for det in self._pass(detector, np.ascontiguousarray(image[y : y + h, x : x + w]))
        ]

    def process(self, frame: np.ndarray, t: float) -> list[FaceEvent]:
        """Run one frame through the whole path; one event per face visible in it."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected a uint8 RGB frame (H, W, 3), got {frame.dtype} {frame.shape}")
        times = StageTimes()
        clock = time.perf_counter()

        if self.detect_every > 1 and self.frame_index % self.detect_every and self.tracker.tracks:
            pairs = self.tracker.coast(t)
            self.last_plan = DetectPlan(full=False)
            self.last_passes = 0
        else:
            pairs = self.tracker.update(self.detect(frame), t)
        alive = {track.track_id for track in self.tracker.tracks}
        self.windows.retain(alive)
        for gone in [tid for tid in self._seen if tid not in alive]:
            self.risks.pop(gone, None)
            del self._seen[gone]
        now = time.perf_counter()
        times.detect, clock = now - clock, now

        # A track's window holds every `stride`-th frame of it, as in training (ModelMeta.stride:
        # the frame step between a window's features). Tracks are staggered by id, so a gallery's
        # encoder load spreads evenly over frames instead of all faces on the same one.
        spec = self.meta.crop
        stride = max(1, int(self.meta.stride))
        crops = []
        encode_rows: list[int] = []
        qualities = []
        for i, (track, det) in enumerate(pairs):
            seen = self._seen.get(track.track_id, 0)
            self._seen[track.track_id] = seen + 1
            crop = None
            if (seen + track.track_id) % stride == 0:
                crop = align_face(frame, track.keypoints, spec)
                crops.append(crop)
                encode_rows.append(i)
            qcrop = quality_crop(frame, track.keypoints, crop, spec)
            qualities.append(assess_face(qcrop, track.keypoints, det.score, self.quality))
        now = time.perf_counter()
        times.align, clock = now - clock, now

        if crops:
            features = self.backend.encode(self.meta.normalise(np.stack(crops)))
        else:
            features = np.zeros((0, self.meta.feature_dim), np.float32)
        now = time.perf_counter()
        times.encode, clock = now - clock, now

        due = [
            i
            for row, i in enumerate(encode_rows)
            if self.windows.push(pairs[i][0].track_id, features[row], good=qualities[i].ok)
        ]
        logits: dict[int, float] = {}
        if due:
            batch = np.stack([self.windows.get(pairs[i][0].track_id) for i in due])
            logits = dict(zip(due, (float(v) for v in self.backend.head(batch)), strict=True))
        now = time.perf_counter()
        times.head, clock = now - clock, now

        events = []
        for i, (track, det) in enumerate(pairs):
            track_id = track.track_id
            window_ok = (
                not self.windows.is_full(track_id)
                or self.windows.good_fraction(track_id) >= MIN_WINDOW_GOOD_FRACTION
            )
            risk = self.risks.get(track_id)
            if risk is None:
                risk = self.risks[track_id] = TrackRisk(self.risk_config)
            reading = risk.update(t, logits.get(i), qualities[i].ok and window_ok)
            box = det.box
            events.append(
                FaceEvent(
                    t=t,
                    frame=self.frame_index,
                    track_id=track_id,
                    box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                    p_fake=reading.p_fake,
                    risk=reading.risk,
                    state=reading.state.value,
                    reason=None if reading.reason is None else reading.reason.value,
                    quality=list(qualities[i].flags),
                    scored=i in logits,
                )
            )
        times.risk = time.perf_counter() - clock
        self.last_times = times
        self.frame_index += 1
        return events
