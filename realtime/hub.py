"""One reader of a source, several consumers: the detector takes what it can, the video goes on.

Why: the virtual camera must send frames at a steady rate even when the detector is slower than
the source (``callshield vcam``: "the newest annotations are drawn on the current frame"), and the
overlay must be able to pause analysis while its virtual camera keeps streaming. So a
:class:`FrameHub` reads any :class:`~realtime.sources.FrameSource` (whatever
:func:`~realtime.sources.open_source` opened: camera, screen, file, a future WebRTC track) on its
own thread and keeps only the newest frame. :class:`HubSource` is the pipeline's view of it: a live
``FrameSource`` with latest-frame semantics that the unchanged :class:`~realtime.pipeline.Pipeline`
runs on; :meth:`FrameHub.latest` is the virtual camera's view.

The source is only ever iterated and closed on the hub's thread (PyAV containers are not
thread-safe), except :class:`~realtime.sources.CameraSource`, whose ``close`` is made to be called
from anywhere and wakes a reader stuck waiting on a dead camera, so closing never takes long.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from realtime.errors import InputError, SourceLost
from realtime.sources import CameraSource, Frame, FrameSource


class FrameHub:
    """Reads ``source`` on a thread; keeps the newest frame, its sequence number and arrival time."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.name = source.name
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._seq = 0
        self._arrived = 0.0
        self._error: BaseException | None = None
        self._ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture {source.name}", daemon=True)

    def start(self) -> FrameHub:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for frame in self.source:
                if self._stop.is_set():
                    break
                with self._cond:
                    self._latest = frame
                    self._seq += 1
                    self._arrived = time.monotonic()
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the readers, who raise it on their own thread
            self._error = exc
        finally:
            with contextlib.suppress(Exception):
                self.source.close()
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def stopping(self) -> bool:
        """``close`` was called (the thread may still be finishing)."""
        return self._stop.is_set()

    @property
    def error(self) -> BaseException | None:
        """What stopped the source (``SourceLost``, ``InputError``...), None if it ended or still runs."""
        return self._error

    @property
    def frames(self) -> int:
        """Frames read from the source so far."""
        return self._seq

    def latest(self) -> tuple[int, Frame | None, float]:
        """``(sequence number, newest frame or None, monotonic time it arrived)``; never waits."""
        with self._cond:
            return self._seq, self._latest, self._arrived

    def wait_newer(self, seen: int, timeout: float | None = None) -> tuple[int, Frame | None, float]:
        """Wait until a frame newer than sequence ``seen`` arrives, the source ends, or ``timeout``."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._seq > seen or self._ended or self._stop.is_set(), timeout=timeout
            )
            return self._seq, self._latest, self._arrived

    def first_frame(self, timeout: float = 10.0) -> Frame:
        """The first frame (to size an output by), or the source's own error, or :class:`SourceLost`."""
        _, frame, _ = self.wait_newer(0, timeout)
        if frame is not None:
            return frame
        if self._error is not None:
            raise self._error
        if self._ended:
            raise InputError(f"{self.name} delivered no frame")
        raise SourceLost(f"{self.name} delivered no frame in {timeout:g} s")

    def close(self, timeout: float = 1.0) -> None:
        """Stop reading and release the source (safe from any thread, and twice)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if isinstance(self.source, CameraSource):
            self.source.close()  # thread-safe; wakes the hub thread if it waits on a dead camera
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class HubSource(FrameSource):
    """The pipeline's view of a hub: newest frames only, stale ones counted in ``dropped``.

    ``pause()`` makes the reader take no frames (the hub keeps reading, so whatever else shows its
    frames goes on); ``resume()`` carries on from the newest frame. The hub's error (a lost camera)
    is raised here, on the pipeline's thread, where the pipeline expects it.
    """

    live = True

    def __init__(self, hub: FrameHub) -> None:
        self._skipped = 0
        super().__init__()
        self.hub = hub
        self.name = hub.name
        self.expected_frames = hub.source.expected_frames
        self.last_arrival = 0.0  # when the frame most recently yielded reached the hub (monotonic)
        self._running = threading.Event()
        self._running.set()
        self._closed = threading.Event()

    @property
    def warnings(self) -> list[str]:  # type: ignore[override]
        return self.hub.source.warnings

    @warnings.setter
    def warnings(self, value: list[str]) -> None:  # FrameSource.__init__ assigns it
        pass

    @property
    def dropped(self) -> int:  # type: ignore[override]
        """Frames this reader skipped, plus those the source itself skipped (a paced file running late)."""
        return self._skipped + self.hub.source.dropped

    @dropped.setter
    def dropped(self, value: int) -> None:
        self._skipped = value - self.hub.source.dropped if hasattr(self, "hub") else value

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def __iter__(self) -> Iterator[Frame]:
        seen = 0
        while not self._closed.is_set():
            if not self._running.is_set():
                self._running.wait(0.05)
                continue
            seq, frame, arrived = self.hub.wait_newer(seen, timeout=0.25)
            if seq > seen and frame is not None:
                self._skipped += seq - seen - 1
                seen = seq
                self.last_arrival = arrived
                yield frame
            elif self.hub.ended or self.hub.stopping:
                if self.hub.error is not None:
                    raise self.hub.error
                return

    def close(self) -> None:
        self._closed.set()
        self._running.set()
        self.hub.close()
