"""Where frames come from: a video file, a camera, a screen region, a folder of images.

Every source yields :class:`Frame` ``(image, t)``: a ``uint8`` RGB ``(H, W, 3)`` array and a
timestamp in seconds (media time for files, wall-clock since start for live sources; a WebRTC
sender's own clock, which may jump back or pause: :mod:`realtime.timeline` places it).
Expected failures (missing file, camera that does not open, no display) raise
:class:`realtime.errors.InputError` at construction, so a caller learns about a bad source before it
creates any output; a live source that dies mid-run raises :class:`realtime.errors.SourceLost`.

Live sources (``live = True``) follow latest-frame semantics: when the consumer is slower than the
source, stale frames are dropped (counted in ``dropped``), never queued, so latency never grows.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from realtime.errors import InputError, SourceLost

VIDEO_SUFFIXES = (
    ".mp4",
    ".mov",
    ".avi",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".flv",
    ".ts",
    ".3gp",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class Frame(NamedTuple):
    """One decoded frame; unpacks as ``image, t = frame``."""

    image: np.ndarray
    t: float


class FrameSource(ABC):
    """A stream of :class:`Frame`; use as a context manager so devices and files are released.

    ``name``: what to call it in messages. ``live``: frames arrive at the world's pace (drop stale
    ones) rather than on demand. ``dropped``: frames skipped under latest-frame semantics.
    ``warnings``: problems the user should hear about that did not stop the stream (a file that
    ended early). ``expected_frames``: a frame-count estimate for progress bars (0 if unknown).
    """

    name: str = "source"
    live: bool = False

    def __init__(self) -> None:
        self.dropped = 0
        self.warnings: list[str] = []
        self.expected_frames = 0

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None:  # noqa: B027 (a no-op default: not every source holds a resource)
        """Release the device or file; safe to call twice."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------- files


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def check_file(path: Path, what: str = "video") -> None:
    """Raise one clear :class:`InputError` for a path that cannot possibly be a readable file."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a {what} file")
    if not path.is_file():
        raise InputError(f"{path} is not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")


class VideoFileSource(FrameSource):
    """Frames of a video file, decoded by PyAV (FFmpeg).

    ``paced=False`` (scanning): every frame, as fast as decoding goes. ``paced=True`` (monitor on a
    file, a stand-in for a live call): frames are released at their media time and frames the
    consumer is too slow for are dropped, exactly like a camera.

    A file that is corrupt or truncated part-way decodes up to the damage, then stops with a
    message in ``warnings``; a file with no decodable frame at all raises :class:`InputError`.
    """

    def __init__(self, path: str | Path, paced: bool = False) -> None:
        super().__init__()
        import av

        self.path = Path(path)
        self.name = str(self.path)
        self.live = paced
        check_file(self.path)
        try:
            self._container: Any = av.open(str(self.path))
        except Exception as exc:  # PyAV: InvalidDataError, EOFError, PermissionError, ...
            with open(self.path, "rb") as fh:
                head = fh.read(512)
            if _looks_like_text(head):
                raise InputError(f"{self.path} is not a video: it contains text") from None
            raise InputError(f"{self.path} is not a readable video ({_av_reason(exc)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self.expected_frames = int(self._stream.frames or 0)
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 30.0
        duration = self._container.duration  # microseconds, may be None
        self.duration_s = float(duration) / 1e6 if duration else None
        self.decoded = 0

    def __iter__(self) -> Iterator[Frame]:
        last_t = -1.0
        first_t: float | None = None
        wall_start = time.monotonic()
        frames = self._container.decode(self._stream)
        while True:
            try:
                av_frame = next(frames)
            except StopIteration:
                break
            except Exception as exc:  # damaged packet: stop cleanly at the damage
                if self.decoded == 0:
                    raise InputError(f"{self.path} could not be decoded ({_av_reason(exc)})") from None
                self.warnings.append(
                    f"{self.path}: decoding stopped after frame {self.decoded} ({_av_reason(exc)}); "
                    "the rest of the file is damaged or truncated"
                )
                return
            t = av_frame.time
            if t is None:
                t = self.decoded / self.fps
            if first_t is None:
                first_t = t
            t = float(t - first_t)
            if t <= last_t:  # broken or missing timestamps: keep time strictly increasing
                t = last_t + 1.0 / self.fps
            last_t = t
            self.decoded += 1
            if self.live:
                lag = time.monotonic() - wall_start - t
                if lag > 1.0 / self.fps:  # the consumer fell behind: skip to the present
                    self.dropped += 1
                    continue
                if lag < 0:
                    time.sleep(-lag)
            yield Frame(av_frame.to_ndarray(format="rgb24"), t)
        if self.decoded == 0:
            raise InputError(f"{self.path} contains no decodable video frames")
        self._check_complete(last_t)

    def _check_complete(self, last_t: float) -> None:
        """Warn about a file that ended well before its header said (cut-off download/recording)."""
        if self.expected_frames and self.decoded < 0.9 * self.expected_frames:
            self.warnings.append(
                f"{self.path}: only {self.decoded} of {self.expected_frames} frames could be read "
                "(truncated?)"
            )
        elif not self.expected_frames and self.duration_s and last_t + 2.0 / self.fps < 0.9 * self.duration_s:
            self.warnings.append(
                f"{self.path}: video ends at {last_t:.1f} s of {self.duration_s:.1f} s (truncated?)"
            )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()


def _av_reason(exc: BaseException) -> str:
    """FFmpeg's reason without the errno noise PyAV adds."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).split(":")[0].strip()


class ImageFolderSource(FrameSource):
    """A folder of still images, in name order, as a clip at a nominal ``fps``."""

    def __init__(self, folder: str | Path, fps: float = 30.0) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.name = str(self.folder)
        self.fps = fps
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: no such folder")
        self.paths = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            videos = [p for p in self.folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES]
            hint = " (it holds videos: use `callshield scan` for a folder of videos)" if videos else ""
            raise InputError(f"{self.folder} contains no images ({', '.join(IMAGE_SUFFIXES)}){hint}")
        self.expected_frames = len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        n = 0
        for path in self.paths:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                self.warnings.append(f"{path}: not a readable image, skipped")
                continue
            yield Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), n / self.fps)
            n += 1
        if n == 0:
            raise InputError(f"{self.folder}: none of its images could be read")


# -------------------------------------------------------------------------------------- camera


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` a :class:`CameraSource` uses."""

    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's name)

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


def _open_cv_capture(index: int) -> Capture:
    import cv2

    logging = cv2.utils.logging  # OpenCV 4 and 5 (5 dropped the cv2.getLogLevel alias)
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)  # OpenCV prints its own probe failures; we say it once
    try:
        return cv2.VideoCapture(index)
    finally:
        logging.setLogLevel(level)


# Seconds without a new frame before a camera counts as lost: long enough for a USB camera's
# start-up and auto-exposure, short enough that a user is told quickly.
CAMERA_TIMEOUT_S = 5.0


class CameraSource(FrameSource):
    """A webcam by index, read on a thread that keeps only the latest frame.

    Why a thread: cameras push frames at their own rate and drivers buffer them; reading on demand
    would hand the detector frames that are already seconds old. The reader overwrites one slot;
    the consumer takes whatever is newest. A camera that stops delivering (unplugged, taken by
    another app, a driver stuck inside ``read``) raises :class:`SourceLost` after ``timeout_s``;
    the consumer never waits on the device itself, so it cannot hang.

    ``capture_factory`` builds the capture from the index (default: ``cv2.VideoCapture`` with
    OpenCV's probe logging silenced).
    """

    live = True

    def __init__(
        self,
        index: int,
        timeout_s: float | None = None,
        capture_factory: Callable[[int], Capture] | None = None,
    ) -> None:
        super().__init__()
        self.index = index
        self.name = f"camera {index}"
        self.timeout_s = CAMERA_TIMEOUT_S if timeout_s is None else timeout_s
        self._capture = (capture_factory or _open_cv_capture)(index)
        if not self._capture.isOpened():
            with contextlib.suppress(Exception):
                self._capture.release()
            raise InputError(
                f"camera {index} could not be opened (no such camera, or another app is using it); "
                "`callshield checks` shows which cameras this machine has"
            )
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._read_loop, name=f"camera-{index}", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        import cv2

        try:
            while not self._stop.is_set():
                ok, bgr = self._capture.read()
                if not ok or bgr is None:
                    time.sleep(0.01)  # hiccup or dead device: the consumer's timeout decides
                    continue
                frame = Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.monotonic() - self._start)
                with self._cond:
                    self._latest = frame
                    self._seq += 1
                    self._cond.notify_all()
        finally:
            with contextlib.suppress(Exception):
                self._capture.release()

    def __iter__(self) -> Iterator[Frame]:
        seen = 0
        while True:
            with self._cond:

                def arrived(last: int = seen) -> bool:
                    return self._seq > last or self._stop.is_set()

                got = self._cond.wait_for(arrived, self.timeout_s)
                if self._stop.is_set():
                    return
                if not got or self._latest is None:
                    state = "stopped delivering frames" if seen else "delivered no frame"
                    raise SourceLost(
                        f"camera {self.index} {state} for {self.timeout_s:g} s "
                        "(unplugged, or taken by another app?)"
                    )
                self.dropped += self._seq - seen - 1
                seen = self._seq
                frame = self._latest
            yield frame

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        # A driver stuck inside read() keeps the daemon thread; we do not wait on it forever.
        self._thread.join(timeout=0.5)


# -------------------------------------------------------------------------------------- screen


def _mss_instance() -> Any:
    import mss

    factory = getattr(mss, "MSS", None) or mss.mss
    return factory()


class ScreenSource(FrameSource):
    """A screen region (a call window), grabbed with mss at most ``fps`` times a second.

    ``region``: ``(x, y, w, h)`` in desktop pixels, or None for the primary monitor. Grabbing on
    demand is already latest-frame: the consumer always gets the screen as it is now.
    """

    live = True

    def __init__(self, region: tuple[int, int, int, int] | None = None, fps: float = 30.0) -> None:
        super().__init__()
        self.fps = fps
        self.name = "screen" if region is None else "screen:" + ",".join(map(str, region))
        try:
            grabber = _mss_instance()
        except Exception as exc:
            raise InputError(
                f"cannot capture the screen: no display ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                "run inside a desktop session, or use --source 0 (camera) or a video file"
            ) from None
        try:
            desktop = grabber.monitors[0]
            primary = grabber.monitors[1] if len(grabber.monitors) > 1 else desktop
        finally:
            with contextlib.suppress(Exception):
                grabber.close()
        if region is None:
            self.box = {k: int(primary[k]) for k in ("left", "top", "width", "height")}
        else:
            x, y, w, h = region
            right, bottom = desktop["left"] + desktop["width"], desktop["top"] + desktop["height"]
            if (
                w <= 0
                or h <= 0
                or x < desktop["left"]
                or y < desktop["top"]
                or x + w > right
                or y + h > bottom
            ):
                raise InputError(
                    f"screen region {x},{y},{w},{h} is not inside the desktop "
                    f"({desktop['left']},{desktop['top']},{desktop['width']},{desktop['height']})"
                )
            self.box = {"left": x, "top": y, "width": w, "height": h}

    def __iter__(self) -> Iterator[Frame]:
        grabber = _mss_instance()  # mss handles are per-thread on some platforms: make it here
        start = time.monotonic()
        period = 1.0 / self.fps
        next_at = start
        try:
            while True:
                wait = next_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                shot = grabber.grab(self.box)
                bgra = np.frombuffer(shot.bgra, np.uint8).reshape(shot.height, shot.width, 4)
                t = time.monotonic() - start
                next_at = max(next_at + period, time.monotonic())
                yield Frame(np.ascontiguousarray(bgra[:, :, 2::-1]), t)
        finally:
            with contextlib.suppress(Exception):
                grabber.close()


# ------------------------------------------------------------------------------------- factory


def parse_screen_spec(spec: str) -> tuple[int, int, int, int] | None:
    """``screen`` -> None (whole primary monitor); ``screen:x,y,w,h`` -> the region."""
    if spec == "screen":
        return None
    body = spec.partition(":")[2]
    parts = body.split(",")
    try:
        values = tuple(int(p.strip()) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise InputError(f"bad screen region {spec!r}: expected screen:x,y,w,h with four integers")
    x, y, w, h = values
    return x, y, w, h


def open_source(spec: str, paced: bool = True) -> FrameSource:
    """Open ``0``/``1``.. (camera index), ``screen[:x,y,w,h]``, ``whip[:[HOST:]PORT]`` (WHIP
    ingest: a publisher such as OBS sends the video over WebRTC), a folder of images, or a file.

    ``paced``: play files at their own frame rate with latest-frame dropping (monitor), rather
    than as fast as they decode (scan).
    """
    spec = spec.strip()
    if spec.isdigit():
        return CameraSource(int(spec))
    if spec == "screen" or spec.startswith("screen:"):
        return ScreenSource(parse_screen_spec(spec))
    if spec == "whip" or spec.startswith("whip:"):
        from realtime.webrtc.source import open_whip_source  # aiohttp/aiortc only when asked for

        return open_whip_source(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path)
    return VideoFileSource(path, paced=paced)
