"""The virtual camera: the source's frames, with per-face risk burnt in, as a camera Zoom/Meet can pick.

:class:`VirtualCameraSink` is a pipeline :class:`~realtime.sinks.Sink`: ``consume`` only keeps a
reference to the newest events (microseconds on the pipeline thread). Its own output thread sends
a frame every ``1/fps`` seconds on an absolute schedule: the *current* frame of the source (from a
:class:`~realtime.hub.FrameHub`, so the video is as smooth as the source even when the detector is
slower) with the *newest* annotations drawn on it (:mod:`realtime.annotate`). Without a hub it
sends the newest processed frame, repeated as needed, at the same steady rate.

pyvirtualcam picks the platform's backend (v4l2loopback on Linux, OBS Virtual Camera on macOS and
Windows, Unity Capture on Windows), trying each in turn; when none works, :func:`open_camera`
raises :class:`VirtualCameraUnavailable`: one line naming each backend's reason and the fix for
this platform. ``callshield checks`` reports the same through :func:`probe`.
"""

from __future__ import annotations

import collections
import contextlib
import platform
import sys
import threading
import time
from typing import Any

import cv2
import numpy as np

from engines.artifact import Thresholds
from realtime.annotate import STYLES, annotate
from realtime.errors import UserError
from realtime.events import FaceEvent
from realtime.hub import FrameHub
from realtime.sinks import FrameResult, SinkClosed

# The fix per platform.system(), shown with the backends' own reasons.
SETUP_FIX = {
    "Linux": (
        "sudo apt install v4l2loopback-dkms && "
        'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="CallShield"'
    ),
    "Darwin": (
        "macOS 14+: install OBS Studio 30 or later, start its virtual camera once "
        "(Start Virtual Camera, then Stop), then run this again"
    ),
    "Windows": "install OBS Studio (it brings the OBS Virtual Camera), or Unity Capture",
}
# Annotations older than this are not drawn (analysis paused, or the detector stalled).
MAX_ANNOTATION_AGE_S = 1.0
# Send times kept for the jitter readout (a minute at 30 fps).
SEND_HISTORY = 1800
# While the output thread runs, Python hands the GIL to a waiting thread after at most this long
# (default 5 ms). The pipeline thread runs Python between its native calls; with the default, the
# output thread waited up to 5 ms per hand-over for the GIL after its deadline: measured on the 3x3
# gallery at load 7.6 on 2 cores, output jitter p99 124 ms at 5 ms and 17 ms at 1 ms.
SWITCH_INTERVAL_S = 0.001


class VirtualCameraUnavailable(UserError):
    """No virtual camera backend works here; the message names each one's reason and the fix."""

    exit_code = 4


def setup_fix(system: str | None = None) -> str:
    """How to get a virtual camera on ``system`` (``platform.system()`` by default)."""
    system = system or platform.system()
    return SETUP_FIX.get(system, "no virtual camera backend is known for this platform")


def open_camera(
    width: int, height: int, fps: float, backend: str | None = None, device: str | None = None
) -> Any:
    """A ``pyvirtualcam.Camera`` taking RGB frames, or :class:`VirtualCameraUnavailable` in one line."""
    try:
        import pyvirtualcam
    except ImportError:
        raise VirtualCameraUnavailable(
            "the virtual camera needs pyvirtualcam: pip install pyvirtualcam (or callshield[live])"
        ) from None
    if backend is not None and backend not in pyvirtualcam.camera.BACKENDS:
        known = ", ".join(pyvirtualcam.camera.BACKENDS) or "none on this platform"
        raise VirtualCameraUnavailable(f"no virtual camera backend {backend!r} (known: {known})")
    try:
        return pyvirtualcam.Camera(
            width=width,
            height=height,
            fps=fps,
            fmt=pyvirtualcam.PixelFormat.RGB,
            backend=backend,
            device=device,
        )
    except Exception as exc:  # pyvirtualcam: RuntimeError with one "'name' backend: reason" per line
        reasons = [" ".join(line.split()).rstrip(".") for line in str(exc).splitlines() if line.strip()]
        said = "; ".join(reasons) or f"no backend for {platform.system()}"
        raise VirtualCameraUnavailable(f"no virtual camera: {said}; fix: {setup_fix()}") from None


def probe_camera(backend: str | None = None, device: str | None = None) -> None:
    """Open and close a tiny camera: :class:`VirtualCameraUnavailable` now rather than after slow work."""
    open_camera(64, 48, 5, backend=backend, device=device).close()


def probe() -> tuple[bool, str, str]:
    """``(works, what, fix)`` for ``callshield checks``: opens a tiny camera for real and closes it."""
    try:
        with open_camera(64, 48, 5) as cam:
            return True, f"{cam.backend} backend, device {cam.device}", ""
    except VirtualCameraUnavailable as exc:
        text = str(exc)
        what, _, fix = text.partition("; fix: ")
        return False, what, fix


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` scaled to fit ``width x height`` keeping its aspect ratio, centred on black."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_LINEAR, not INTER_AREA: area resampling at non-integer scales took 10x as long (63 ms for
    # 1280x720 -> 861x484 on this machine), more than a frame's budget on the output thread.
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = resized
    return out


class VirtualCameraSink:
    """Sends frames to ``camera`` at ``fps`` on its own thread; the pipeline only hands it events.

    ``camera``: anything with ``width``, ``height``, ``send(rgb)`` and ``close()`` (a
    ``pyvirtualcam.Camera``). ``hub``: where current frames come from (None: the processed ones).
    ``style``: ``annotated`` | ``badge`` | ``clean``, changeable while running.
    """

    def __init__(
        self,
        camera: Any,
        hub: FrameHub | None = None,
        style: str = "annotated",
        fps: float = 30.0,
        thresholds: Thresholds | None = None,
    ) -> None:
        if style not in STYLES:
            raise UserError(f"--style must be one of {', '.join(STYLES)}, not {style!r}")
        if not fps > 0:
            raise UserError("--fps must be above 0")
        self.camera = camera
        self.hub = hub
        self.style = style
        self.fps = float(fps)
        self.thresholds = thresholds or Thresholds()
        self.width, self.height = int(camera.width), int(camera.height)
        self.sent = 0
        self.send_times: collections.deque[float] = collections.deque(maxlen=SEND_HISTORY)
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._events: list[FaceEvent] = []
        self._events_shape: tuple[int, ...] = ()
        self._events_at = 0.0
        self._processed: np.ndarray | None = None
        self._stop = threading.Event()
        self._switch_interval: float | None = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, SWITCH_INTERVAL_S))
        self._thread = threading.Thread(target=self._run, name="virtual camera", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ pipeline side (fast)
    def consume(self, result: FrameResult) -> None:
        if self.error is not None:
            raise SinkClosed(f"the virtual camera stopped: {self.error}")
        with self._lock:
            self._events = result.events
            self._events_shape = result.image.shape
            self._events_at = time.monotonic()
            self._processed = result.image

    def close(self) -> None:
        """Stop the output thread and release the device (safe twice)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        with contextlib.suppress(Exception):
            self.camera.close()
        if not self._thread.is_alive() and self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ output thread
    def current_frame(self) -> np.ndarray | None:
        if self.hub is not None:
            _, frame, _ = self.hub.latest()
            return None if frame is None else frame.image
        with self._lock:
            return self._processed

    def compose(self, frame: np.ndarray) -> np.ndarray:
        """What goes out for ``frame``: the newest annotations drawn on it, fitted to the camera's size."""
        with self._lock:
            events, shape, at = self._events, self._events_shape, self._events_at
        fresh = shape == frame.shape and time.monotonic() - at <= MAX_ANNOTATION_AGE_S
        drawn = annotate(frame, events if fresh else [], self.style, self.thresholds)
        return fit_frame(drawn, self.width, self.height)

    def _run(self) -> None:
        """Absolute schedule: wake just before the deadline (less the time composing takes), compose the
        newest frame, wait out the rest, send. The frame is at most one compose old when it goes out,
        and send times stay on the grid whatever the pipeline is doing."""
        period = 1.0 / self.fps
        next_at = time.perf_counter()
        compose_s = 0.0
        black = np.zeros((self.height, self.width, 3), np.uint8)
        try:
            while not self._stop.is_set():
                lead = next_at - compose_s - 0.001 - time.perf_counter()
                if lead > 0:
                    time.sleep(lead)
                started = time.perf_counter()
                frame = self.current_frame()
                out = black if frame is None else self.compose(frame)
                now = time.perf_counter()
                compose_s = 0.8 * compose_s + 0.2 * (now - started)
                if next_at > now:
                    time.sleep(next_at - now)
                if self._stop.is_set():
                    break
                self.camera.send(out)
                sent_at = time.perf_counter()
                self.send_times.append(sent_at)
                self.sent += 1
                next_at += period
                if next_at < sent_at - period:  # fell more than a frame behind: do not burst
                    next_at = sent_at
        except BaseException as exc:  # a device that went away; the command reports it
            self.error = exc

    def intervals_ms(self) -> np.ndarray:
        """Milliseconds between consecutive sends (for the jitter readout and the benchmark)."""
        stamps = np.asarray(self.send_times, np.float64)
        return np.diff(stamps) * 1000.0
