"""DetectorSession on real MediaPipe + real ONNX Runtime, with the plumbing model (not a detector)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.crop import align_face
from realtime.errors import UserError
from realtime.risk import calibrate
from realtime.session import DetectorSession, make_face_detector, merge_duplicates, tile_grid
from tests.media import grid_of_faces
from tests.realtime.fixture_model import build_plumbing_model


class CallCounter:
    """Wraps the real backend and records batch sizes (a spy: the arithmetic is ONNX Runtime's)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.meta = inner.meta
        self.provider = inner.provider
        self.encode_batches: list[int] = []
        self.head_batches: list[int] = []

    def encode(self, crops: np.ndarray) -> np.ndarray:
        self.encode_batches.append(len(crops))
        return self.inner.encode(crops)

    def head(self, windows: np.ndarray) -> np.ndarray:
        self.head_batches.append(len(windows))
        return self.inner.head(windows)


@pytest.fixture(scope="module")
def detector():
    detector = make_face_detector("full")
    yield detector
    detector.close()


def _counting_session(
    plumbing_session: DetectorSession, detector, **kwargs
) -> tuple[DetectorSession, CallCounter]:
    spy = CallCounter(plumbing_session.backend)
    return DetectorSession(spy, detector=detector, **kwargs), spy


def test_one_face_one_track_warm_up_then_scored_windows(plumbing_session, detector, carphone_frames) -> None:
    session, spy = _counting_session(plumbing_session, detector)
    meta = session.meta
    all_events = []
    for i, frame in enumerate(carphone_frames[:40]):
        events = session.process(frame, i / 30)
        assert len(events) == 1
        all_events.append(events[0])
    assert {e.track_id for e in all_events} == {1}
    assert [e.frame for e in all_events] == list(range(40))
    warm = all_events[: meta.window - 1]
    assert all(e.reason == "warming_up" and e.p_fake is None and not e.scored for e in warm)
    assert all(e.scored and e.p_fake is not None for e in all_events[meta.window - 1 :])
    assert all(e.quality == [] for e in all_events)
    assert spy.encode_batches == [1] * 40
    assert spy.head_batches == [1] * (40 - meta.window + 1)

    # the window holds exactly what the encoder makes of this frame's aligned crop...
    track = session.tracker.tracks[0]
    crop = align_face(carphone_frames[39], track.keypoints, meta.crop)
    newest = session.windows.get(1)[-1]
    np.testing.assert_allclose(
        newest, session.backend.encode(meta.normalise(crop[None]))[0], rtol=1e-5, atol=1e-5
    )
    # ...and the reported p_fake is the calibrated head output on that window
    logit = float(session.backend.head(session.windows.get(1)[None])[0])
    assert all_events[-1].p_fake == pytest.approx(calibrate(logit, meta.temperature), abs=1e-6)


def test_all_faces_of_a_frame_share_one_encode_and_one_head_call(
    plumbing_session, detector, carphone_frames
) -> None:
    session, spy = _counting_session(plumbing_session, detector)
    for i, frame in enumerate(carphone_frames[:12]):
        pair = np.concatenate([frame, np.clip(frame.astype(int) + 30, 0, 255).astype(np.uint8)], axis=1)
        events = session.process(pair, i / 30)
        assert sorted(e.track_id for e in events) == [1, 2]
    window = session.meta.window
    assert spy.encode_batches == [2] * 12
    assert spy.head_batches == [2] * (12 - window + 1)
    right = [e for e in events if e.box[0] > 176][0]
    left = [e for e in events if e.box[0] < 176][0]
    assert right.p_fake > left.p_fake  # the brighter copy reads brighter to the probe model


def test_gallery_of_25_faces_with_tiled_detection(plumbing_session, detector, carphone_frames) -> None:
    gallery = grid_of_faces(carphone_frames[0], 5, 5, tile=96)
    one_pass, _ = _counting_session(plumbing_session, detector, detect_tiles=1)
    assert len(one_pass.process(gallery, 0.0)) < 10  # MediaPipe alone misses most small faces
    session, spy = _counting_session(plumbing_session, detector, detect_tiles=2)
    events = session.process(gallery, 0.0)
    assert len(events) == 25 and len({e.track_id for e in events}) == 25
    assert spy.encode_batches == [25]
    centres = sorted(
        (round((e.box[1] + e.box[3]) / 2 // 96), round((e.box[0] + e.box[2]) / 2 // 96)) for e in events
    )
    assert centres == [(r, c) for r in range(5) for c in range(5)]  # one face per tile, none twice
    # the default finds them too, from the second frame on: 3 mosaic passes (9 + 9 + 7 faces)
    auto, _ = _counting_session(plumbing_session, detector)
    counts = [
        len(auto.process(grid_of_faces(f, 5, 5, tile=96), i / 30)) for i, f in enumerate(carphone_frames[:4])
    ]
    assert counts[1:] == [25, 25, 25] and auto.tracker.created == 25
    assert auto.last_passes == 3


def test_tiles_overlap_and_cover_the_frame() -> None:
    tiles = tile_grid(480, 640, 2)
    assert len(tiles) == 4
    assert min(x for x, _, _, _ in tiles) == 0 and max(x + w for x, _, w, _ in tiles) == 640
    assert max(y + h for _, y, _, h in tiles) == 480
    assert tiles[0][2] > 320 and tiles[0][3] > 240  # neighbours overlap
    assert tile_grid(100, 100, 1) == [(0, 0, 100, 100)]


def test_partial_face_inside_a_whole_one_is_merged() -> None:
    from realtime.faces import Detection

    whole = Detection(np.array([0, 0, 100, 100], np.float32), np.zeros((6, 2), np.float32), 0.9)
    part = Detection(np.array([50, 0, 100, 60], np.float32), np.zeros((6, 2), np.float32), 0.6)
    other = Detection(np.array([200, 0, 300, 100], np.float32), np.zeros((6, 2), np.float32), 0.8)
    assert merge_duplicates([part, whole, other]) == [whole, other]


def test_4k_frames_are_detected_downscaled_but_boxes_are_full_resolution(
    plumbing_session, detector, carphone_frames
) -> None:
    frame = carphone_frames[0]
    big = cv2.resize(frame, (2640, 2160), interpolation=cv2.INTER_CUBIC)
    uhd = np.zeros((2160, 3840, 3), np.uint8)
    uhd[:, 600:3240] = big
    session, spy = _counting_session(plumbing_session, detector)
    events = session.process(uhd, 0.0)
    assert len(events) == 1
    small = session.detector(frame)[0]
    expected = small.box * (2160 / 144) + np.array([600, 0, 600, 0])
    np.testing.assert_allclose(events[0].box, expected, atol=0.03 * 2160)
    assert events[0].quality == []  # a sharp, big face: the crop came from the full-res frame


def test_model_that_is_not_a_callshield_model_is_one_user_error(tmp_path: Path) -> None:
    garbage = tmp_path / "random.onnx"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(UserError, match="not a readable ONNX model"):
        DetectorSession.load(garbage)
    bare = build_plumbing_model(tmp_path / "bare.onnx", with_meta=False)
    with pytest.raises(UserError, match="not a CallShield model"):
        DetectorSession.load(bare)
    with pytest.raises(UserError, match="model file not found"):
        DetectorSession.load(tmp_path / "missing.onnx")


def test_the_live_path_never_imports_torch(plumbing_model: Path, carphone: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from realtime.session import DetectorSession
        from realtime.sources import VideoFileSource
        from realtime.video_score import score_video
        session = DetectorSession.load({str(plumbing_model)!r})
        with VideoFileSource({str(carphone)!r}) as source:
            for i, (image, t) in enumerate(source):
                session.process(image, t)
                if i == 10:
                    break
        score_video({str(carphone)!r}, session, max_frames=10)
        assert "torch" not in sys.modules, "torch was imported"
        print("ok", session.provider)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok CPUExecutionProvider"


def test_a_face_that_leaves_frees_its_window_and_risk(plumbing_session, detector, carphone_frames) -> None:
    from realtime.tracker import FaceTracker
    from tests.media import paste_faces

    frames, _ = paste_faces(carphone_frames, 70, [(190, 60, 0, 0), (300, 10, 5, 0)])
    session = DetectorSession(plumbing_session.backend, detector=detector, tracker=FaceTracker(max_missed=5))
    ids_per_frame = [{e.track_id for e in session.process(frame, i / 30)} for i, frame in enumerate(frames)]
    assert ids_per_frame[0] == {1, 2}
    leaver = 2 if ids_per_frame[-1] == {1} else 1
    assert ids_per_frame[-1] == {1, 2} - {leaver}
    assert session.windows.track_ids() == [3 - leaver] and list(session.risks) == [3 - leaver]


def test_stride_encodes_every_other_frame_per_face_staggered_across_faces(
    tmp_path: Path, carphone_probe_offset: float, detector, carphone_frames
) -> None:
    from tests.realtime.fixture_model import plumbing_meta

    meta = plumbing_meta(window=4, stride=2)
    model = build_plumbing_model(tmp_path / "stride2.onnx", meta, offset=carphone_probe_offset)
    loaded = DetectorSession.load(model)
    session, spy = _counting_session(loaded, detector)
    first_scored: dict[int, int] = {}
    for i, frame in enumerate(carphone_frames[:20]):
        pair = np.concatenate([frame, frame[:, ::-1]], axis=1)
        for event in session.process(pair, i / 30):
            if event.scored:
                first_scored.setdefault(event.track_id, i)
    # two faces, stride 2: one face is encoded per frame, alternating (balanced load)
    assert spy.encode_batches == [1] * 20
    # a window of 4 features taken every 2nd frame needs 7-8 frames of a face
    assert sorted(first_scored.values()) == [6, 7]
    assert sum(spy.head_batches) == (20 - 6) // 2 + (20 - 7 + 1) // 2


class CountingDetector:
    """The real MediaPipe detector, counting how often it is asked."""

    def __init__(self, detector) -> None:
        self.detector = detector
        self.calls = 0

    def __call__(self, frame):
        self.calls += 1
        return self.detector(frame)

    def close(self) -> None:
        pass


def test_detect_every_skips_the_detector_but_keeps_scoring_the_face(
    plumbing_session, detector, carphone_frames
) -> None:
    counting = CountingDetector(detector)
    session = DetectorSession(plumbing_session.backend, detector=counting, detect_every=3)
    frames = carphone_frames[:30]
    per_frame = [session.process(frame, i / 30) for i, frame in enumerate(frames)]
    assert counting.calls == 10  # frames 0, 3, 6, ...
    assert all(len(events) == 1 for events in per_frame)  # the face is reported on every frame
    assert {events[0].track_id for events in per_frame} == {1}
    # coasted keypoints stay on the face: the boxes of skipped frames equal the last detection's
    assert per_frame[1][0].box == per_frame[0][0].box


def test_detect_every_must_be_positive(plumbing_session, detector) -> None:
    with pytest.raises(ValueError, match="detect_every"):
        DetectorSession(plumbing_session.backend, detector=detector, detect_every=0)
