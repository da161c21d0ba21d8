"""The default face search (``detect_tiles="auto"``) on real MediaPipe, on views made from carphone.

What it must do: find and keep every face of a 3x3 call gallery (which one whole-frame pass does not),
find a face that joins, leave the one-face path exactly as it was, and give crops whose keypoints
agree with searching every tile with the full-range model on every frame. Work is counted in
detector passes, never timed (the machine is shared; speed lives in BENCHMARKS.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces import Detection
from realtime.session import DetectorSession, make_face_detector
from realtime.tiling import DISCOVER_EVERY, PROBE_EVERY, gallery_tiles
from tests.media import call_gallery

FRAMES = 24


@pytest.fixture(scope="module")
def detectors():
    full, short = make_face_detector("full"), make_face_detector("short")
    yield full, short
    full.close()
    short.close()


def _session(plumbing_session, detectors, detect_tiles=None, full=None) -> DetectorSession:
    """A session on the shared detectors; ``detect_tiles`` None: the default (what users get)."""
    options = {} if detect_tiles is None else {"detect_tiles": detect_tiles}
    return DetectorSession(
        plumbing_session.backend, detector=full or detectors[0], tile_detector=detectors[1], **options
    )


def _cell(box, n: int = 3, size: tuple[int, int] = (1280, 720)) -> int:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return int(cy // (size[1] // n)) * n + int(cx // (size[0] // n))


def _run(session: DetectorSession, frames: list[np.ndarray]):
    """Per frame: {cell: (track id, smoothed keypoints)}, and (plan, detector passes run)."""
    seen, work = [], []
    for i, frame in enumerate(frames):
        events = session.process(frame, i / 30)
        live = {track.track_id: track for track in session.tracker.tracks}
        seen.append({_cell(e.box): (e.track_id, live[e.track_id].keypoints.copy()) for e in events})
        assert len(seen[-1]) == len(events)  # never two faces in one cell
        work.append((session.last_plan, session.last_passes))
    return seen, work


@pytest.fixture(scope="module")
def gallery(carphone_frames) -> list[np.ndarray]:
    return [call_gallery(carphone_frames, i) for i in range(FRAMES)]


def test_every_face_of_a_3x3_gallery_is_tracked_with_stable_ids(plumbing_session, detectors, gallery) -> None:
    one_pass, _ = _run(_session(plumbing_session, detectors, detect_tiles=1), gallery)
    assert min(len(frame) for frame in one_pass) < 9  # the view is one a whole-frame pass fails

    session = _session(plumbing_session, detectors)
    seen, work = _run(session, gallery)
    assert all(len(frame) == 9 for frame in seen[1:])  # frame 0 has no tracks to plan from yet
    assert session.tracker.created == 9  # no id churn
    ids = {cell: {frame[cell][0] for frame in seen if cell in frame} for cell in range(9)}
    assert all(len(v) == 1 for v in ids.values()) and len(set().union(*ids.values())) == 9
    # the work: one mosaic pass re-detects all nine, a discovery pass every DISCOVER_EVERY frames
    # (and rarely a retry); the old 9-of-9 setting (--tiles 2) ran 5 full-range passes a frame
    assert all(plan.gallery and len(plan.rois) == 9 for plan, _ in work[2:])
    passes = [n for _, n in work[2:]]
    assert np.mean(passes) <= 1 + 1 / DISCOVER_EVERY + 0.15 and max(passes) <= 3


def _offsets(seen, reference) -> tuple[np.ndarray, np.ndarray]:
    """Mean keypoint distance per face and frame, in px and in the reference's eye distances."""
    px, eyes = [], []
    for mine, ref in zip(seen, reference, strict=True):
        for cell in mine.keys() & ref.keys():
            kps, ref_kps = mine[cell][1], ref[cell][1]
            px.append(np.linalg.norm(kps - ref_kps, axis=1).mean())
            eyes.append(np.linalg.norm(ref_kps[1] - ref_kps[0]))
    return np.array(px), np.array(px) / np.array(eyes)


def test_keypoints_agree_with_every_frame_tiling_and_sit_closer_to_each_face_alone(
    plumbing_session, detectors, gallery
) -> None:
    auto, _ = _run(_session(plumbing_session, detectors), gallery)
    tiled, _ = _run(_session(plumbing_session, detectors, detect_tiles=2), gallery)
    px, rel = _offsets(auto[1:], tiled[1:])
    assert len(px) >= 9 * (len(gallery) - 1) * 0.9
    # measured: 0.14 of the eye distance (~6 px), the spread between BlazeFace's passes at these
    # sizes; a face cut by a tile or a region mapped back wrong would be several times that
    assert rel.mean() < 0.2

    # "alone": the full-range model on each gallery cell by itself, as training crops a one-person
    # clip (raw detections; the runs above are smoothed by the tracker)
    alone, every = [], 2  # every 2nd frame is enough, and halves the time
    for frame in gallery[1::every]:
        faces = {}
        for cell in range(9):
            r, c = divmod(cell, 3)
            found = detectors[0](
                np.ascontiguousarray(frame[r * 240 : (r + 1) * 240, c * 426 : (c + 1) * 426])
            )
            if found:
                best = max(found, key=lambda d: d.score)
                faces[cell] = (0, best.keypoints + np.array([c * 426, r * 240], np.float32))
        alone.append(faces)
    mine, _ = _offsets(auto[1::every], alone)
    theirs, _ = _offsets(tiled[1::every], alone)
    assert mine.mean() < theirs.mean()  # measured: 4.5 px against 6.7 px


def test_a_face_joining_the_gallery_is_found_within_one_discovery_round(
    plumbing_session, detectors, carphone_frames
) -> None:
    joins, bound = 10, 3 * DISCOVER_EVERY  # a 16:9 round: the whole frame and two tiles
    frames = [
        call_gallery(carphone_frames, i, cells=range(9) if i >= joins else range(8))
        for i in range(joins + bound + 2)
    ]
    session = _session(plumbing_session, detectors)
    seen, _ = _run(session, frames)
    assert all(8 not in frame for frame in seen[:joins])
    found = next(i for i, frame in enumerate(seen) if 8 in frame)
    assert found <= joins + bound
    assert all(len(frame) == 9 for frame in seen[found:])
    assert session.tracker.created == 9  # the others kept their ids


class BlindDetector:
    """A full-range pass that sees nothing: what discovery is for (faces too small for it)."""

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        return []

    def close(self) -> None:
        pass


def test_a_face_the_whole_frame_pass_misses_is_found_by_the_tile_probes_in_bounded_time(
    plumbing_session, detectors, carphone_frames
) -> None:
    # one small face on the right of a 16:9 view: only the right tile's probe can find it
    frames = [call_gallery(carphone_frames, i, cells=[5]) for i in range(2 * PROBE_EVERY + 4)]
    session = _session(plumbing_session, detectors, full=BlindDetector())
    found = []
    for i, frame in enumerate(frames):
        found.append(len(session.process(frame, i / 30)))
        if found[-1] and found.count(1) == 1:
            assert session.last_plan.tiles == (gallery_tiles(540, 960, 1)[1],)  # the right tile found it
    first = found.index(1)
    assert first <= 2 * PROBE_EVERY  # each of the two tiles is probed once in 2 probe periods
    # then it is kept by re-detection around it (here by the retry: the blind pass sees nothing)
    assert all(n == 1 for n in found[first:])


def test_one_face_is_detected_exactly_as_by_one_whole_frame_pass(
    plumbing_session, detectors, carphone_frames
) -> None:
    import cv2

    frames = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_LINEAR) for f in carphone_frames[:40]]
    old, _ = _run(_session(plumbing_session, detectors, detect_tiles=1), frames)
    new, work = _run(_session(plumbing_session, detectors), frames)
    assert [sorted(f) for f in new] == [sorted(f) for f in old] and all(len(f) == 1 for f in new)
    for mine, theirs in zip(new, old, strict=True):
        (tid, kps), (old_tid, old_kps) = next(iter(mine.values())), next(iter(theirs.values()))
        assert tid == old_tid == 1
        np.testing.assert_allclose(kps, old_kps, atol=1e-4)  # the tile probes never replace it
    # the same full-range pass on every frame; one probe tile every PROBE_EVERY frames on top
    assert all(plan.full and not plan.rois for plan, _ in work)
    assert [i for i, (_, n) in enumerate(work) if n > 1] == list(range(0, 40, PROBE_EVERY))


def test_a_2x2_gallery_keeps_its_four_faces_on_the_whole_frame_pass(
    plumbing_session, detectors, carphone_frames
) -> None:
    frames = [call_gallery(carphone_frames, i, n=2) for i in range(12)]
    session = _session(plumbing_session, detectors)
    seen, work = _run(session, frames)
    assert all(len(frame) == 4 for frame in seen) and session.tracker.created == 4
    assert all(plan.full and not plan.gallery for plan, _ in work)  # faces big enough for one pass
