"""FaceTracker with real MediaPipe detections: carphone, and carphone faces composited to move.

What the runtime needs from tracking: one id per face for as long as it is in view (its feature
window depends on it), never two faces under one id (their windows would mix), and ended tracks
that go away (so their windows are freed).
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime.tracker import FaceTracker
from tests.media import paste_faces


def _track(frames, detector, tracker: FaceTracker | None = None):
    tracker = tracker or FaceTracker()
    per_frame = []
    for i, frame in enumerate(frames):
        per_frame.append(tracker.update(detector(frame), i / 30))
    return tracker, per_frame


def _owner(box: np.ndarray, centres: list) -> int:
    """Which pasted face a detection belongs to: the nearest tile centre."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    dists = [np.inf if c is None else np.hypot(cx - c[0], cy - c[1]) for c in centres]
    return int(np.argmin(dists))


def _faces_per_id(per_frame, centres) -> dict[int, set[int]]:
    owners: dict[int, set[int]] = {}
    for pairs, row in zip(per_frame, centres, strict=True):
        for track, det in pairs:
            owners.setdefault(track.track_id, set()).add(_owner(det.box, row))
    return owners


def test_one_id_over_the_whole_carphone_clip(carphone_frames, face_detector) -> None:
    _, per_frame = _track(carphone_frames, face_detector)
    assert all(len(pairs) == 1 for pairs in per_frame)
    assert {pairs[0][0].track_id for pairs in per_frame} == {1}


def test_keypoints_are_smoothed_but_follow_the_face(carphone_frames, face_detector) -> None:
    tracker = FaceTracker()
    raw, smoothed = [], []
    for i, frame in enumerate(carphone_frames):
        for track, det in tracker.update(face_detector(frame), i / 30):
            raw.append(det.keypoints[:4].astype(np.float64))
            smoothed.append(track.keypoints[:4].copy())
    raw_arr, smoothed_arr = np.array(raw), np.array(smoothed)
    assert np.abs(np.diff(smoothed_arr, axis=0)).mean() < np.abs(np.diff(raw_arr, axis=0)).mean()
    assert np.abs(smoothed_arr - raw_arr).max() < 5.0  # never lags far behind the face


def test_two_faces_crossing_keep_their_ids(carphone_frames, face_detector) -> None:
    frames, centres = paste_faces(carphone_frames, 60, [(10, 10, 6, 0), (374, 70, -6, 0)])
    _, per_frame = _track(frames, face_detector)
    assert all(len(pairs) == 2 for pairs in per_frame[:55])
    assert _faces_per_id(per_frame, centres) in ({1: {0}, 2: {1}}, {1: {1}, 2: {0}})


def test_occluded_face_never_takes_the_other_faces_id(carphone_frames, face_detector) -> None:
    # 40 px apart vertically: the top face is hidden behind the bottom one for a few frames.
    frames, centres = paste_faces(carphone_frames, 60, [(10, 10, 6, 0), (374, 50, -6, 0)])
    _, per_frame = _track(frames, face_detector)
    owners = _faces_per_id(per_frame, centres)
    assert all(len(faces) == 1 for faces in owners.values()), owners  # no id ever covers two faces
    assert {face for faces in owners.values() for face in faces} == {0, 1}


def test_face_leaving_ends_its_track_and_a_face_entering_gets_a_new_id(
    carphone_frames, face_detector
) -> None:
    # face 0 stays, face 1 walks out to the right, face 2 walks in from the left later
    paths = [(190, 60, 0, 0), (300, 10, 5, 0), (-96 - 150, 110, 5, 0)]
    frames, centres = paste_faces(carphone_frames, 90, paths, size=(220, 480))
    tracker = FaceTracker(max_missed=5)
    per_frame, alive = [], []
    for i, frame in enumerate(frames):
        per_frame.append(tracker.update(face_detector(frame), i / 30))
        alive.append({track.track_id for track in tracker.tracks})
    seen_ids = [{track.track_id for track, _ in pairs} for pairs in per_frame]
    owners = _faces_per_id(per_frame, centres)
    assert all(len(faces) == 1 for faces in owners.values())
    stayer = next(tid for tid, faces in owners.items() if faces == {0})
    leaver = next(tid for tid, faces in owners.items() if faces == {1})
    enterer = next(tid for tid, faces in owners.items() if faces == {2})
    assert all(stayer in ids for ids in seen_ids)
    left_at = max(i for i, ids in enumerate(seen_ids) if leaver in ids)
    assert left_at < 60
    assert leaver in alive[left_at + 5] and leaver not in alive[left_at + 6]  # ends after max_missed
    assert enterer > leaver and enterer not in alive[0]
    assert enterer in seen_ids[-1]


@pytest.mark.parametrize("max_missed", [0, 3])
def test_brief_detection_gap_keeps_the_id_within_max_missed(
    carphone_frames, face_detector, max_missed
) -> None:
    tracker = FaceTracker(max_missed=max_missed)
    ids = []
    for i, frame in enumerate(carphone_frames[:20]):
        detections = [] if i in (8, 9) else face_detector(frame)  # two frames without a detection
        ids.extend(track.track_id for track, _ in tracker.update(detections, i / 30))
    assert set(ids) == ({1} if max_missed >= 2 else {1, 2})
