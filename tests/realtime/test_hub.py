"""FrameHub / HubSource: one reader of a real source, newest frames, pause, errors, quick close."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from realtime.errors import InputError, SourceLost
from realtime.hub import FrameHub, HubSource
from realtime.sources import CameraSource, VideoFileSource
from tests.realtime.test_sources import _CameraThatStops


def test_a_slow_reader_gets_the_newest_frames_and_the_rest_count_as_dropped(
    carphone_frames, tmp_path: Path
) -> None:
    from tests.media import write_video

    clip = write_video(tmp_path / "one_second.mp4", carphone_frames[:30])
    hub = FrameHub(VideoFileSource(clip, paced=True)).start()
    source = HubSource(hub)
    seen = []
    for _image, t in source:
        seen.append(t)
        time.sleep(0.1)  # a 10 fps detector on a 30 fps file
    assert hub.ended and hub.error is None and hub.frames == 30
    assert 7 <= len(seen) <= 14 and len(seen) + source.dropped == 30
    assert np.all(np.diff(seen) > 0) and seen[-1] == pytest.approx(29 / 30, abs=0.01)  # the last frame too
    assert source.warnings == []


def test_pause_takes_no_frames_while_the_hub_reads_on(carphone: Path) -> None:
    hub = FrameHub(VideoFileSource(carphone, paced=True)).start()
    source = HubSource(hub)
    frames = iter(source)
    next(frames)
    source.pause()
    read_before = hub.frames
    time.sleep(0.4)
    assert hub.frames > read_before + 8  # the video goes on for other readers
    source.resume()
    _, t = next(frames)
    assert t > 0.35  # carried on from the newest frame, not from where it paused
    source.close()
    assert not hub._thread.is_alive()


def test_the_sources_error_is_raised_on_the_readers_thread(carphone_frames) -> None:
    dying = _CameraThatStops(carphone_frames[:15], then="fail")
    hub = FrameHub(CameraSource(0, timeout_s=0.3, capture_factory=lambda index: dying)).start()
    source = HubSource(hub)
    got = 0
    with pytest.raises(SourceLost, match="camera 0 stopped delivering frames"):
        for _ in source:
            got += 1
    assert got >= 1 and dying.released.wait(2)


def test_close_wakes_a_hub_waiting_on_a_hung_camera(carphone_frames) -> None:
    hung = _CameraThatStops(carphone_frames[:3], then="hang")
    hub = FrameHub(CameraSource(0, timeout_s=30, capture_factory=lambda index: hung)).start()
    assert hub.first_frame(5).image.shape == (144, 176, 3)
    time.sleep(0.1)
    start = time.monotonic()
    hub.close()
    assert time.monotonic() - start < 1.0 and not hub._thread.is_alive()


def test_first_frame_reports_a_source_that_gives_nothing(tmp_path: Path) -> None:
    from tests.media import noise_frames, write_video

    clip = write_video(tmp_path / "n.mp4", noise_frames(3))
    hub = FrameHub(VideoFileSource(clip, paced=True)).start()
    assert hub.first_frame(5).image.shape == (144, 176, 3)
    hub.close()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(InputError):
        FrameHub(VideoFileSource(broken, paced=True)).start().first_frame(5)
