"""The WebRTC frame source: newest frame first, stale ones dropped and counted, never a hang."""

from __future__ import annotations

import threading
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from realtime.errors import SourceLost
from realtime.webrtc.track import TrackFrameSource, wire_timestamps


def _frame(value: int, pts: int | None) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), value, np.uint8), format="rgb24")
    frame.pts = pts
    frame.time_base = Fraction(1, 90000)
    return frame


def test_a_slow_consumer_gets_the_newest_frame_and_the_rest_count_as_dropped() -> None:
    source = TrackFrameSource("test", first_frame_timeout_s=2, timeout_s=2)
    frames = iter(source)
    for i in range(5):  # five frames arrive while the consumer is busy
        source.put(_frame(10 * i, 3000 * i))
    image, t = next(frames)
    assert int(image[0, 0, 0]) in (39, 40, 41)  # the last one (RGB->YUV->RGB rounding)
    assert source.dropped == 4 and source.received == 5
    assert t == pytest.approx(0.0)  # the first frame the consumer saw starts the clock
    assert source.current is not None and (source.current.width, source.current.height) == (64, 48)
    source.put(_frame(200, 3000 * 5))
    _, t = next(frames)
    assert t == pytest.approx(3000 / 90000)  # sender time, not arrival time
    assert source.dropped == 4


def test_rtp_timestamps_unwrap_across_the_32_bit_rollover() -> None:
    source = TrackFrameSource("test")
    frames = iter(source)
    times = []
    for pts in (2**32 - 3000, 0, 3000):  # the sender's clock wraps between the first two
        source.put(_frame(0, pts))
        times.append(next(frames)[1])
    assert times == pytest.approx([0.0, 3000 / 90000, 6000 / 90000])


def test_wire_timestamps_add_aiortcs_origin_back() -> None:
    class Mapper:
        _origin = 2**32 - 10

    class Receiver:
        _RTCRtpReceiver__timestamp_mapper = Mapper()

    wire = wire_timestamps(Receiver())
    assert wire(0) == 2**32 - 10 and wire(20) == 10
    assert wire_timestamps(object())(5) is None  # an aiortc without the attribute: no timing, no crash


def test_silence_after_frames_is_a_lost_stream_not_a_hang() -> None:
    source = TrackFrameSource("page peer x", first_frame_timeout_s=1, timeout_s=0.2)
    frames = iter(source)
    source.put(_frame(0, 0))
    next(frames)
    start = time.monotonic()
    with pytest.raises(SourceLost, match="page peer x stopped sending video for 0.2 s"):
        next(frames)
    assert time.monotonic() - start < 1.0


def test_no_first_frame_is_lost_too() -> None:
    source = TrackFrameSource("whip peer y", first_frame_timeout_s=0.2)
    with pytest.raises(SourceLost, match="sent no video"):
        next(iter(source))


def test_end_stops_cleanly_or_says_why_and_close_wakes_a_waiting_consumer() -> None:
    ended = TrackFrameSource("a")
    ended.end()
    assert list(ended) == []

    broken = TrackFrameSource("b")
    broken.end("connection failed")
    with pytest.raises(SourceLost, match="b: connection failed"):
        list(broken)

    waiting = TrackFrameSource("c", first_frame_timeout_s=None)  # would wait forever
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.extend(waiting))
    reader.start()
    time.sleep(0.1)
    waiting.close()
    reader.join(2)
    assert not reader.is_alive() and got == []


def test_receive_fps_counts_arrivals() -> None:
    source = TrackFrameSource("d")
    assert source.receive_fps() == 0.0
    for i in range(11):
        source.put(_frame(0, 3000 * i))
        time.sleep(0.01)
    assert 40 < source.receive_fps() < 110
