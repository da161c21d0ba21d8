"""Sources on real files (PyAV), a real folder of images, the real OpenCV camera probe, real mss."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.errors import InputError, SourceLost
from realtime.sources import (
    CameraSource,
    ImageFolderSource,
    ScreenSource,
    VideoFileSource,
    open_source,
    parse_screen_spec,
)
from tests.media import write_video


def test_video_file_yields_every_frame_as_rgb_with_increasing_media_time(carphone: Path) -> None:
    with VideoFileSource(carphone) as source:
        assert source.expected_frames == 120
        frames = list(source)
    assert len(frames) == 120
    image, t = frames[0]
    assert image.dtype == np.uint8 and image.shape == (144, 176, 3)
    times = np.array([f.t for f in frames])
    assert times[0] == 0.0
    assert np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 1001 / 30000, atol=1e-3)
    assert source.warnings == [] and source.dropped == 0


def test_video_file_is_rgb_not_bgr(tmp_path: Path) -> None:
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 220
    path = write_video(tmp_path / "red.mp4", [red] * 3)
    image = next(iter(VideoFileSource(path))).image
    assert image[..., 0].mean() > 180 and image[..., 2].mean() < 40


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", r"empty \(0 bytes\)"),
        (b"this is a text file, not a video\n" * 20, "contains text"),
        (bytes(range(256)) * 40, "not a readable video"),
    ],
    ids=["missing", "empty", "text", "garbage"],
)
def test_unusable_files_raise_one_clear_input_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        VideoFileSource(path)


def test_folder_given_as_video_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        VideoFileSource(tmp_path)


def test_mp4_cut_before_its_index_cannot_be_opened(carphone: Path, tmp_path: Path) -> None:
    data = carphone.read_bytes()  # carphone keeps its 'moov' index at the end
    assert data.find(b"moov") > len(data) // 2
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable video"):
        VideoFileSource(path)


def test_video_damaged_in_the_middle_decodes_up_to_the_damage_then_warns(
    carphone: Path, tmp_path: Path
) -> None:
    data = bytearray(carphone.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20000] = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    source = VideoFileSource(path)
    frames = list(source)
    assert 20 < len(frames) < 120
    assert len(source.warnings) == 1 and "decoding stopped after frame" in source.warnings[0]


def test_truncated_streamable_file_decodes_what_is_there_and_warns(carphone_frames, tmp_path: Path) -> None:
    full = write_video(tmp_path / "full.mkv", carphone_frames)
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.5)])
    source = VideoFileSource(cut)
    frames = list(source)
    assert 10 < len(frames) < 110
    assert source.warnings and "truncated" in source.warnings[0]


def test_paced_file_plays_at_media_time_and_drops_for_a_slow_consumer(
    carphone_frames, tmp_path: Path
) -> None:
    clip = write_video(tmp_path / "one_second.mp4", carphone_frames[:30], fps=30)
    start = time.monotonic()
    fast = list(VideoFileSource(clip, paced=True))
    elapsed = time.monotonic() - start
    assert len(fast) == 30
    assert 0.85 < elapsed < 2.0  # paced: not as fast as decoding (~0.05 s)

    slow_source = VideoFileSource(clip, paced=True)
    start = time.monotonic()
    kept = []
    for frame in slow_source:
        kept.append(frame.t)
        time.sleep(0.1)  # a consumer at ~10 fps
    assert time.monotonic() - start < 2.0  # it kept up with the clock instead of queueing
    assert slow_source.dropped > 10
    assert len(kept) + slow_source.dropped == 30
    assert np.all(np.diff(kept) > 0)


def test_image_folder_in_name_order(carphone_frames, tmp_path: Path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(
            str(tmp_path / f"frame_{i:03d}.png"), cv2.cvtColor(carphone_frames[i * 10], cv2.COLOR_RGB2BGR)
        )
    (tmp_path / "notes.txt").write_text("ignored")
    frames = list(ImageFolderSource(tmp_path, fps=10))
    assert [f.t for f in frames] == [0.0, 0.1, 0.2]
    for i, frame in enumerate(frames):
        assert np.abs(frame.image.astype(int) - carphone_frames[i * 10].astype(int)).mean() < 1.0


def test_folder_without_images_says_what_to_do(carphone: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="contains no images"):
        ImageFolderSource(tmp_path)
    (tmp_path / "call.mp4").write_bytes(carphone.read_bytes())
    with pytest.raises(InputError, match="callshield scan"):
        ImageFolderSource(tmp_path)


def test_camera_that_does_not_exist_is_named_in_the_error(capfd: pytest.CaptureFixture[str]) -> None:
    if os.path.exists("/dev/video7"):
        pytest.skip("this machine has a /dev/video7")
    with pytest.raises(InputError, match="camera 7 could not be opened"):
        CameraSource(7)
    assert "VIDEOIO" not in capfd.readouterr().err  # OpenCV's own probe noise is silenced


class _CameraThatStops:
    """cv2.VideoCapture look-alike: real frames, fast, then the device dies (read fails or hangs)."""

    def __init__(self, frames: list[np.ndarray], then: str) -> None:
        self.frames = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]
        self.then = then
        self.reads = 0
        self.released = threading.Event()
        self._hang = threading.Event()
        self.pause_after: int | None = None  # a stall of pause_s seconds before this read, if set
        self.pause_s = 0.0

    def isOpened(self) -> bool:  # noqa: N802
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.reads < len(self.frames):
            if self.reads == self.pause_after:
                time.sleep(self.pause_s)
            frame = self.frames[self.reads]
            self.reads += 1
            time.sleep(0.005)  # a 200 fps camera
            return True, frame
        if self.then == "hang":
            self._hang.wait(30)  # a driver stuck inside read()
        return False, None

    def release(self) -> None:
        self.released.set()


@pytest.mark.parametrize("failure", ["read_fails", "read_hangs"])
def test_camera_that_stops_mid_stream_raises_source_lost_without_hanging(
    carphone_frames, failure: str
) -> None:
    fake = _CameraThatStops(carphone_frames[:60], then="hang" if failure == "read_hangs" else "fail")
    source = CameraSource(3, timeout_s=0.5, capture_factory=lambda index: fake)
    received = []
    start = time.monotonic()
    with pytest.raises(SourceLost, match="camera 3 stopped delivering frames for 0.5 s"):
        for frame in source:
            received.append(frame)
            time.sleep(0.03)  # slower than the camera: latest-frame semantics must drop, not queue
    elapsed = time.monotonic() - start
    source.close()
    assert elapsed < 2.5
    assert received and received[0].image.shape == (144, 176, 3)
    assert source.dropped > 0 and len(received) + source.dropped <= 60
    assert np.all(np.diff([f.t for f in received]) > 0)
    # the newest frame was delivered, not a stale one: the last one seen is (near) the camera's last
    assert np.abs(received[-1].image.astype(int) - carphone_frames[59].astype(int)).mean() < 12
    if failure == "read_fails":
        assert fake.released.wait(2.0)


def test_screen_without_a_display_is_an_input_error() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        pytest.skip("a display is available here")
    with pytest.raises(InputError, match="no display"):
        ScreenSource()


def test_screen_spec_parsing() -> None:
    assert parse_screen_spec("screen") is None
    assert parse_screen_spec("screen:10,20,640,360") == (10, 20, 640, 360)
    for bad in ("screen:1,2", "screen:a,b,c,d", "screen:"):
        with pytest.raises(InputError, match="screen:x,y,w,h"):
            parse_screen_spec(bad)


def test_open_source_dispatches_on_the_spec(carphone: Path, tmp_path: Path) -> None:
    source = open_source(str(carphone), paced=False)
    assert isinstance(source, VideoFileSource) and not source.live
    assert isinstance(open_source(str(carphone)), VideoFileSource) and open_source(str(carphone)).live
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert isinstance(open_source(str(tmp_path)), ImageFolderSource)
    if not os.path.exists("/dev/video9"):
        with pytest.raises(InputError, match="camera 9"):
            open_source("9")
    with pytest.raises(InputError, match="screen:x,y,w,h"):
        open_source("screen:oops")
