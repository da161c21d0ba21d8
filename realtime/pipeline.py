"""The live loop: source -> session -> every sink, until the stream ends or someone stops it.

Latency must not grow over a call, so the loop never queues: live sources hand over their newest
frame and drop the rest (see :mod:`realtime.sources`); the loop processes one frame at a time and
fans its result out to all sinks. Each :class:`~realtime.sinks.FrameResult` carries per-stage
seconds (decode, detect, align, encode, head, risk) for the ``bench`` verb and any ``on_frame`` hook.

Shutdown is always clean: Ctrl-C (``KeyboardInterrupt``), :meth:`Pipeline.stop` from another
thread (the overlay's close button), a sink whose reader went away, or the end of a file all close
the source and every sink. A lost camera does the same, then re-raises :class:`SourceLost` so the
CLI can say what happened.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from realtime.errors import SourceLost
from realtime.session import DetectorSession
from realtime.sinks import FrameResult, Sink, SinkClosed
from realtime.sources import FrameSource
from realtime.timeline import Timeline


@dataclass
class PipelineStats:
    """How a run went. ``stopped``: end | max_frames | interrupt | stop | sink_closed | source_lost;
    ``segments``: stretches of the stream's own clock (more than 1 after a restart or a pause)."""

    frames: int
    dropped: int
    events: int
    seconds: float
    stopped: str
    segments: int = 1

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        restarts = f", {self.segments} time segments" if self.segments > 1 else ""
        return (
            f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), {self.dropped} dropped, "
            f"{self.events} events{restarts}; stopped: {self.stopped}"
        )


class Pipeline:
    """Runs ``session`` over ``source`` and feeds ``sinks``; ``on_frame`` sees every result too."""

    def __init__(
        self,
        source: FrameSource,
        session: DetectorSession,
        sinks: Sequence[Sink] = (),
        on_frame: Callable[[FrameResult], None] | None = None,
        max_frames: int | None = None,
    ) -> None:
        self.source = source
        self.session = session
        self.sinks = list(sinks)
        self.on_frame = on_frame
        self.max_frames = max_frames
        self._stop = threading.Event()
        self.timeline = Timeline()
        self.stats: PipelineStats | None = None

    def stop(self) -> None:
        """Ask the loop to finish after the current frame (safe from any thread)."""
        self._stop.set()

    def run(self) -> PipelineStats:
        frames = events = 0
        stopped = "end"
        start = time.monotonic()
        try:
            frame_iter = iter(self.source)
            while True:
                if self._stop.is_set():
                    stopped = "stop"
                    break
                clock = time.perf_counter()
                try:
                    image, source_t = next(frame_iter)
                except StopIteration:
                    break
                decode = time.perf_counter() - clock
                t, new_segment = self.timeline.place(source_t)
                if new_segment:
                    self.session.start_segment()
                face_events = self.session.process(image, t)
                times = self.session.last_times
                times.decode = decode
                index, segment = self.session.frame_index - 1, self.timeline.segments
                result = FrameResult(index, t, image, face_events, times.as_dict(), segment)
                for sink in self.sinks:
                    sink.consume(result)
                if self.on_frame is not None:
                    self.on_frame(result)
                frames += 1
                events += len(face_events)
                if self.max_frames is not None and frames >= self.max_frames:
                    stopped = "max_frames"
                    break
        except KeyboardInterrupt:
            stopped = "interrupt"
        except SinkClosed:
            stopped = "sink_closed"
        except SourceLost:
            stopped = "source_lost"
            raise
        finally:
            self.stats = PipelineStats(
                frames, self.source.dropped, events, time.monotonic() - start, stopped, self.timeline.segments
            )
            self._close_all()
        return self.stats

    def _close_all(self) -> None:
        """Close the source and every sink, even if one of them fails to close."""
        with contextlib.suppress(Exception):
            self.source.close()
        errors = []
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # one bad sink must not keep the others open
                errors.append(exc)
        if errors:
            raise errors[0]
