"""The pipeline on a worker thread, handing the GUI plain data: inference never runs on the GUI thread.

The unchanged :class:`~realtime.pipeline.Pipeline` runs on a plain Python thread over a
:class:`~realtime.hub.HubSource` (so analysis can pause while the virtual camera keeps streaming).
Its sink, :class:`MailboxSink`, puts each :class:`~realtime.sinks.FrameResult` into a
:class:`Mailbox` and wakes the GUI with a payload-free queued signal only when the mailbox was
empty. The GUI takes *everything* that arrived since its last look in one go: the newest frame to
draw (older frames are dropped: a slow GUI never makes the pipeline wait or queues stale images)
and every event in order (so no state change, and no alert, is lost with a dropped frame).

Closing stops every thread within a second: the pipeline finishes the frame it is on, the hub's
capture thread and a camera's reader are woken and joined, the virtual camera's output thread
ends. A source that fails to open or dies (an unplugged camera) is reported through ``failed``; the
window shows it and lets the user pick another.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from engines.artifact import Thresholds
from realtime.errors import UserError
from realtime.events import FaceEvent
from realtime.hub import FrameHub, HubSource
from realtime.pipeline import Pipeline
from realtime.session import DetectorSession
from realtime.sinks import FrameResult, Sink
from realtime.sources import FrameSource, open_source

# Events kept for a GUI that stopped looking (a minute of a 9-face gallery at 30 fps).
MAX_PENDING_EVENTS = 20_000


@dataclass
class Update:
    """What arrived since the GUI's last look."""

    result: FrameResult | None  # the newest processed frame (with its own events)
    events: list[FaceEvent] = field(default_factory=list)  # every event since the last look, in order
    frames: int = 0  # processed frames since the last look
    arrival: float = 0.0  # monotonic time the newest frame reached the hub
    lost_events: int = 0  # events dropped because the GUI did not look for too long


class Mailbox:
    """One slot for the newest result plus the events of every result since the last ``take``."""

    def __init__(self, max_events: int = MAX_PENDING_EVENTS) -> None:
        self._lock = threading.Lock()
        self._pending = Update(None)
        self._max_events = max_events

    def put(self, result: FrameResult, arrival: float) -> bool:
        """Store ``result``; True when the box was empty (the reader needs a wake-up)."""
        with self._lock:
            pending = self._pending
            was_empty = pending.result is None
            pending.result = result
            pending.events.extend(result.events)
            pending.frames += 1
            pending.arrival = arrival
            overflow = len(pending.events) - self._max_events
            if overflow > 0:
                del pending.events[:overflow]
                pending.lost_events += overflow
            return was_empty

    def take(self) -> Update:
        with self._lock:
            update, self._pending = self._pending, Update(None)
            return update


class SinkSet:
    """Sinks the user turns on and off while the pipeline runs (the virtual camera, an events file).

    The worker owns them: they outlive a switch of source, so the pipeline's end-of-run ``close``
    leaves them open and :meth:`close_all` closes them when the window goes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: tuple[Sink, ...] = ()

    def add(self, sink: Sink) -> None:
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def remove(self, sink: Sink) -> None:
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)
        sink.close()

    def __contains__(self, sink: object) -> bool:
        return sink in self._sinks

    def consume(self, result: FrameResult) -> None:
        for sink in self._sinks:  # a snapshot: add/remove swap the whole tuple
            sink.consume(result)

    def close(self) -> None:
        """End of one pipeline run: the members stay open for the next source."""

    def close_all(self) -> None:
        with self._lock:
            sinks, self._sinks = self._sinks, ()
        for sink in sinks:
            sink.close()


class MailboxSink:
    """The pipeline-side end: into the mailbox, a wake-up signal, and the time it all took."""

    def __init__(self, mailbox: Mailbox, wake: Any, extra: SinkSet, arrival: Any) -> None:
        self.mailbox = mailbox
        self.wake = wake
        self.extra = extra
        self.arrival = arrival  # () -> monotonic arrival time of the frame being processed
        # Seconds the overlay's sinks cost the pipeline thread per frame (the benchmark's figure).
        self.cost_s: collections.deque[float] = collections.deque(maxlen=3600)

    def consume(self, result: FrameResult) -> None:
        start = time.perf_counter()
        if self.mailbox.put(result, self.arrival()):
            self.wake()
        self.extra.consume(result)
        self.cost_s.append(time.perf_counter() - start)

    def close(self) -> None:
        pass


class PipelineWorker(QObject):
    """Runs the detector session on one source at a time, on its own thread."""

    updated = pyqtSignal()  # the mailbox has something (emitted from the worker thread: queued)
    started = pyqtSignal(str)  # a source opened; its name
    failed = pyqtSignal(str)  # a source could not be opened or died; a sentence for the user
    finished = pyqtSignal(str)  # a run ended; how (PipelineStats.stopped, or "failed")

    def __init__(self, session: DetectorSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.mailbox = Mailbox()
        self.sinks = SinkSet()
        self._hub_source: HubSource | None = None
        self.sink = MailboxSink(self.mailbox, lambda: self._emit(self.updated), self.sinks, self._arrival)
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()  # the current run's "stop"; a fresh one per run
        self._pipeline: Pipeline | None = None
        self._lock = threading.Lock()
        self._paused = False
        self._pending_thresholds: Thresholds | None = None
        self.thresholds = session.risk_config.thresholds
        self.vcam: Any = None
        self.max_frames: int | None = None  # each run stops after this many processed frames

    # ----------------------------------------------------------------------- control (GUI thread)
    def start(self, spec: str | None = None, source: FrameSource | None = None) -> None:
        """Stop the current run, then open ``spec`` (or use the opened ``source``) on the worker thread."""
        self.stop()
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(spec, source, self._cancel), name="callshield pipeline", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> bool:
        """End the run (the frame in flight finishes); True when every thread of it has ended."""
        thread = self._thread
        if thread is None:
            return True
        deadline = time.monotonic() + timeout
        self._cancel.set()  # a run still opening its source sees this and does not start
        with self._lock:
            pipeline, hub_source = self._pipeline, self._hub_source
        if pipeline is not None:
            pipeline.stop()
        if hub_source is not None:
            hub_source.close()
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return False
        self._thread = None
        return True

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the run and close the user's sinks (virtual camera, events file): the window is going."""
        stopped = self.stop(timeout * 0.8)
        self.sinks.close_all()
        self.vcam = None
        return stopped

    def set_paused(self, paused: bool) -> None:
        """Pause analysis: the hub keeps reading the source, the detector takes no frames."""
        self._paused = paused
        with self._lock:
            hub_source = self._hub_source
        if hub_source is not None:
            if paused:
                hub_source.pause()
            else:
                hub_source.resume()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_thresholds(self, thresholds: Thresholds) -> None:
        """New decision levels; the pipeline thread applies them before its next frame."""
        self._pending_thresholds = thresholds
        self.thresholds = thresholds
        if self.vcam is not None:
            self.vcam.thresholds = thresholds

    def take(self) -> Update:
        return self.mailbox.take()

    def alive_threads(self) -> list[threading.Thread]:
        """Threads of this worker that are still running (the pipeline, the hub's capture thread)."""
        threads = [self._thread] if self._thread is not None else []
        with self._lock:
            if self._hub_source is not None:
                threads.append(self._hub_source.hub._thread)
        return [t for t in threads if t.is_alive()]

    # ------------------------------------------------------------------------ virtual camera
    def start_vcam(self, width: int, height: int, style: str = "annotated", fps: float = 30.0) -> Any:
        """Open the virtual camera (raises ``VirtualCameraUnavailable`` with the reasons and the fix)."""
        from realtime.vcam import VirtualCameraSink, open_camera

        self.stop_vcam()
        camera = open_camera(width, height, fps)
        with self._lock:
            hub = self._hub_source.hub if self._hub_source is not None else None
        self.vcam = VirtualCameraSink(camera, hub, style, fps, self.thresholds)
        self.sinks.add(self.vcam)
        return self.vcam

    def stop_vcam(self) -> None:
        if self.vcam is not None:
            self.sinks.remove(self.vcam)
            self.vcam = None

    # ------------------------------------------------------------------------ worker thread
    def _arrival(self) -> float:
        hub_source = self._hub_source
        return hub_source.last_arrival if hub_source is not None else time.monotonic()

    def _between_frames(self, result: FrameResult) -> None:
        pending, self._pending_thresholds = self._pending_thresholds, None
        if pending is not None:
            self.session.set_thresholds(pending)

    def _run(self, spec: str | None, source: FrameSource | None, cancel: threading.Event) -> None:
        try:
            if source is None:
                assert spec is not None
                source = open_source(spec, paced=True)
        except UserError as exc:
            self._emit(self.failed, str(exc))
            self._emit(self.finished, "failed")
            return
        hub = FrameHub(source)
        hub_source = HubSource(hub)
        if self._paused:
            hub_source.pause()
        self.session.reset()
        pending, self._pending_thresholds = self._pending_thresholds, None
        if pending is not None:
            self.session.set_thresholds(pending)
        pipeline = Pipeline(
            hub_source, self.session, [self.sink], on_frame=self._between_frames, max_frames=self.max_frames
        )
        with self._lock:
            if cancel.is_set():  # stopped (another source picked, window closed) while opening
                source.close()
                self._emit(self.finished, "stop")
                return
            self._pipeline, self._hub_source = pipeline, hub_source
        hub.start()
        if self.vcam is not None:
            self.vcam.hub = hub
        self._emit(self.started, hub.name)
        stopped = "failed"
        try:
            stopped = pipeline.run().stopped
        except UserError as exc:  # SourceLost, or a file that turned out undecodable
            self._emit(self.failed, str(exc))
        except Exception as exc:  # a bug: say it in the window rather than die silently
            self._emit(self.failed, f"the analysis stopped on an internal error: {type(exc).__name__}: {exc}")
        finally:
            hub.close()
            with self._lock:
                self._pipeline = self._hub_source = None
            if self.vcam is not None and self.vcam.hub is hub:
                self.vcam.hub = None
            self._emit(self.finished, stopped)

    @staticmethod
    def _emit(signal: Any, *args: Any) -> None:
        """Emit from the worker thread; a window already gone (its QObject deleted) is not an error."""
        with contextlib.suppress(RuntimeError):
            signal.emit(*args)
