"""Multi-face tracking with stable ids, and keypoint smoothing for steady crops.

Stable ids matter because the detector's temporal head reads a window of features *per track*: if
two people swapped ids, their windows would mix. Keypoint smoothing matters because BlazeFace's
keypoints jitter by a pixel or two a frame; an unsmoothed crop shakes, and shaking is exactly the
kind of temporal signal a flicker-sensitive detector could mistake for a live swap. Training's crop
cache runs this same tracker, so the model sees the same (smoothed) crops it will see live.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from realtime.faces import Detection


@dataclass
class Track:
    """A face followed across frames."""

    track_id: int
    box: np.ndarray
    keypoints: np.ndarray
    score: float
    first_t: float
    last_t: float
    hits: int = 1
    misses: int = 0
    history: list[float] = field(default_factory=list)

    @property
    def face_size(self) -> float:
        return float(np.linalg.norm(self.keypoints[1] - self.keypoints[0]))


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    ix0, iy0 = max(a[0], b[0]), max(a[1], b[1])
    ix1, iy1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix1 - ix0) * max(0.0, iy1 - iy0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class FaceTracker:
    """Associates each frame's detections with tracks.

    ``max_missed``: frames a track survives without a detection (brief occlusion, a missed
    detection) before it ends; a face that comes back later gets a new id. ``min_iou``: boxes must
    overlap this much to match; failing that, a detection whose centre lies within half a face
    width of a track's centre still matches (fast head motion at low fps).
    """

    def __init__(self, max_missed: int = 15, min_iou: float = 0.25, smoothing: float = 0.4) -> None:
        self.max_missed = max_missed
        self.min_iou = min_iou
        self.smoothing = smoothing
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self.tracks = []
        self._next_id = 1

    @property
    def created(self) -> int:
        """Tracks started since the last reset: more than the faces in view means ids churned."""
        return self._next_id - 1

    def update(self, detections: list[Detection], t: float) -> list[tuple[Track, Detection]]:
        """Match this frame's detections; returns the tracks seen in this frame with their detection.

        Tracks not seen in this frame are kept (up to ``max_missed``) but not returned, so callers
        crop only faces that are actually visible now.
        """
        pairs = self._match(detections)
        matched_tracks = {ti for ti, _ in pairs}
        matched_dets = {di for _, di in pairs}
        seen: list[tuple[Track, Detection]] = []
        for ti, di in pairs:
            track, det = self.tracks[ti], detections[di]
            self._follow(track, det, t)
            seen.append((track, det))
        for ti, track in enumerate(self.tracks):
            if ti not in matched_tracks:
                track.misses += 1
        self.tracks = [tr for tr in self.tracks if tr.misses <= self.max_missed]
        for di, det in enumerate(detections):
            if di in matched_dets:
                continue
            track = Track(
                track_id=self._next_id,
                box=det.box.copy(),
                keypoints=det.keypoints.astype(np.float64).copy(),
                score=det.score,
                first_t=t,
                last_t=t,
            )
            self._next_id += 1
            self.tracks.append(track)
            seen.append((track, det))
        seen.sort(key=lambda pair: pair[0].track_id)
        return seen

    def coast(self, t: float) -> list[tuple[Track, Detection]]:
        """The faces of the last detected frame, carried to this frame without running the detector.

        For frames where detection is skipped to save time (``DetectorSession(detect_every=k)``):
        at call frame rates a face moves a pixel or two between frames, so the last smoothed
        keypoints still align it. Only tracks seen on the last detection are returned; misses and
        hits are left alone, so a skipped frame neither ends nor confirms a track.
        """
        seen = []
        for track in self.tracks:
            if track.misses == 0:
                track.last_t = t
                seen.append(
                    (
                        track,
                        Detection(
                            box=track.box.copy(),
                            keypoints=track.keypoints.astype(np.float32),
                            score=track.score,
                        ),
                    )
                )
        return seen

    def _match(self, detections: list[Detection]) -> list[tuple[int, int]]:
        """Greedy assignment by IoU (then by centre distance): optimal enough for a handful of faces."""
        candidates: list[tuple[float, int, int]] = []
        for ti, track in enumerate(self.tracks):
            t_centre = (track.box[:2] + track.box[2:]) / 2
            t_width = max(float(track.box[2] - track.box[0]), 1.0)
            for di, det in enumerate(detections):
                iou = box_iou(track.box, det.box)
                if iou >= self.min_iou:
                    candidates.append((1.0 + iou, ti, di))
                    continue
                d_centre = (det.box[:2] + det.box[2:]) / 2
                dist = float(np.linalg.norm(d_centre - t_centre)) / t_width
                if dist < 0.5:
                    candidates.append((1.0 - dist, ti, di))
        candidates.sort(reverse=True)
        used_t: set[int] = set()
        used_d: set[int] = set()
        pairs: list[tuple[int, int]] = []
        for _, ti, di in candidates:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            pairs.append((ti, di))
        return pairs

    def _follow(self, track: Track, det: Detection, t: float) -> None:
        """Move a track to its new detection, smoothing keypoints when the face is nearly still.

        Adaptive like a one-euro filter: small motion (jitter) is damped, large motion is followed at
        once, so crops neither shake nor lag behind a turning head.
        """
        new_kps = det.keypoints.astype(np.float64)
        size = max(track.face_size, 1.0)
        motion = float(np.linalg.norm(new_kps - track.keypoints, axis=1).mean()) / size
        alpha = float(np.clip(self.smoothing + 4.0 * motion, self.smoothing, 1.0))
        track.keypoints = track.keypoints + alpha * (new_kps - track.keypoints)
        track.box = det.box.copy()
        track.score = det.score
        track.last_t = t
        track.hits += 1
        track.misses = 0
