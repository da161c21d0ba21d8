"""One peer's analysis: the project's :class:`~realtime.pipeline.Pipeline` on a thread of its own.

The pipeline is a blocking loop (take the newest frame, detect, score, fan out to sinks), so each
peer runs it on a dedicated, named thread: nothing heavy ever runs on the event loop, peers do not
wait for each other's frames, and when a peer ends its thread ends too (tests count them). The
detector session is made on that thread as well (creating MediaPipe's graph takes ~0.1 s) from a
factory that shares the server's loaded model between peers; each peer gets its own face detector,
tracker and risk state, since those hold per-stream state. :class:`AnalyseEachPeer` is the
``serve`` server's video handler that sets this up for every peer with video.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from realtime.errors import SourceLost
from realtime.pipeline import Pipeline, PipelineStats
from realtime.sinks import Sink
from realtime.sources import FrameSource
from realtime.webrtc.channel import EventChannelSink, EventLog, EventLogSink
from realtime.webrtc.peers import Peer
from realtime.webrtc.track import PAUSE_LIMIT_S, TrackFrameSource, pump, wire_timestamps

if TYPE_CHECKING:
    from realtime.session import DetectorSession

log = logging.getLogger(__name__)

SessionFactory = Callable[[], "DetectorSession"]
THREAD_PREFIX = "callshield-peer"
# From the answer to the first video frame: ICE, DTLS and the sender's first keyframe.
FIRST_FRAME_TIMEOUT_S = 15.0
# A peer whose video pauses this long is ended; a shorter pause opens a new time segment.
FRAME_GAP_TIMEOUT_S = PAUSE_LIMIT_S
# How long a peer's analysis may take to stop before the server gives up waiting for it.
STOP_TIMEOUT_S = 10.0


class PeerAnalysis:
    """Runs ``source`` -> session -> ``sinks`` on a thread until the source ends or :meth:`stop`.

    ``done`` resolves with the run's :class:`PipelineStats` (None if it never started); ``error``
    says why a stream was lost, if it was.
    """

    def __init__(
        self, name: str, source: FrameSource, make_session: SessionFactory, sinks: Sequence[Sink]
    ) -> None:
        self.name = name
        self.source = source
        self.make_session = make_session
        self.sinks = list(sinks)
        self.error: str | None = None
        self.done: concurrent.futures.Future[PipelineStats | None] = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._stopped = False
        self._pipeline: Pipeline | None = None
        self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end after its current frame (from any thread); the source stops waiting."""
        with self._lock:
            self._stopped = True
            if self._pipeline is not None:
                self._pipeline.stop()
        self.source.close()

    async def ended(self, timeout: float) -> bool:
        """Wait, without blocking the event loop, until the thread has exited; False on timeout.

        Polled rather than joined in an executor: an executor's worker threads would outlive the peer.
        """
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return not self._thread.is_alive()

    def _run(self) -> None:
        stats: PipelineStats | None = None
        try:
            session = self.make_session()
        except Exception as exc:
            log.exception("%s: could not start a detector session", self.name)
            self.error = f"could not start a detector session ({exc})"
            self.source.close()
            for sink in self.sinks:
                sink.close()
            self.done.set_result(None)
            return
        try:
            with self._lock:
                if self._stopped:
                    self.source.close()
                self._pipeline = Pipeline(self.source, session, self.sinks)
            try:
                stats = self._pipeline.run()
            except SourceLost as exc:
                self.error = str(exc)
                stats = self._pipeline.stats
            except Exception as exc:  # a bug must end this peer, not the server
                log.exception("%s: the analysis failed", self.name)
                self.error = f"the analysis failed ({exc})"
        finally:
            session.close()
            self.done.set_result(stats)


class AnalyseEachPeer:
    """``serve``'s video handler: each peer's video through its own pipeline, events back to it.

    WHIP sessions' events also go to ``event_log`` (the ``--events`` file), with the peer id.
    """

    def __init__(self, make_session: SessionFactory, event_log: EventLog | None = None) -> None:
        self.make_session = make_session
        self.event_log = event_log

    def on_video(self, peer: Peer, track: Any) -> None:
        loop = asyncio.get_running_loop()
        receiver = next((r for r in peer.pc.getReceivers() if r.track is track), None)
        source = TrackFrameSource(
            f"{peer.kind} peer {peer.id}",
            first_frame_timeout_s=FIRST_FRAME_TIMEOUT_S,
            timeout_s=FRAME_GAP_TIMEOUT_S,
            wire_rtp=None if receiver is None else wire_timestamps(receiver),
        )
        peer.source = source
        sinks: list[Any] = [EventChannelSink(peer.id, loop, peer.channels, source)]
        if peer.kind == "whip" and self.event_log is not None:
            sinks.append(EventLogSink(self.event_log, peer.id))
        analysis = PeerAnalysis(peer.id, source, self.make_session, sinks)

        def finished(_: Any) -> None:
            reason = analysis.error or "its video ended"
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(peer.close_soon, reason)

        async def stop() -> None:
            analysis.stop()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.wrap_future(analysis.done), STOP_TIMEOUT_S)
            await analysis.ended(STOP_TIMEOUT_S)

        peer.cleanups.append(stop)
        analysis.done.add_done_callback(finished)
        peer.spawn(pump(track, source), "pump")
        analysis.start()
