"""Frames received over WebRTC as a live :class:`~realtime.sources.FrameSource`, newest first.

aiortc's rule is that ``recv`` never blocks: a track whose frames are not read fast enough queues
them without bound, and latency grows for the rest of the call. So :func:`pump` reads the track
on the event loop as fast as frames arrive and only *parks* each one in the source's single slot
(no conversion, no copy); the pipeline, on its own thread, takes whatever frame is newest when it
is ready, converts that one to RGB, and the frames it never took are counted as dropped.

Each delivered frame's :class:`FrameInfo` (its RTP timestamp, when it arrived, its size) is kept
in :attr:`TrackFrameSource.current` while the pipeline processes it, so the event sink can tell
the page which sent frame an event belongs to and how long the server held it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from realtime.errors import SourceLost
from realtime.sources import Frame, FrameSource

# RTP timestamps are 32-bit and wrap (after ~13 h at video's 90 kHz clock).
_RTP_WRAP = 1 << 32
# How long a connected peer's video may pause (a camera switched off and on, a publisher between
# two files) before its stream counts as lost. A dead connection is caught sooner, by ICE consent.
PAUSE_LIMIT_S = 60.0


@dataclass(frozen=True)
class FrameInfo:
    """Where a processed frame came from: ``rtp`` timestamp (None if the track had none),
    ``received_at`` (``time.monotonic()`` when the decoder handed it over), and its size."""

    rtp: int | None
    received_at: float
    width: int
    height: int


class TrackFrameSource(FrameSource):
    """A live source fed by :meth:`put` (event loop) and read by the pipeline (its own thread).

    ``first_frame_timeout_s``: how long to wait for the first frame (None: until closed, e.g. a
    WHIP ingest waiting for its publisher); ``timeout_s``: the longest gap between frames after
    that before the stream counts as lost (:class:`SourceLost`).
    """

    live = True

    def __init__(
        self,
        name: str,
        first_frame_timeout_s: float | None = 10.0,
        timeout_s: float = 5.0,
        wire_rtp: Callable[[int], int | None] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.wire_rtp = wire_rtp
        self.first_frame_timeout_s = first_frame_timeout_s
        self.timeout_s = timeout_s
        self.received = 0
        self.current: FrameInfo | None = None
        self._cond = threading.Condition()
        self._latest: tuple[Any, float] | None = None
        self._seq = 0
        self._closed = False
        self._ended = False
        self._lost: str | None = None
        self._arrivals: deque[float] = deque(maxlen=61)
        self._last_pts: int | None = None
        self._ticks = 0  # unwrapped RTP ticks since the first frame
        self._start = time.monotonic()

    # ------------------------------------------------------------------ producer (event loop)

    def put(self, frame: Any) -> None:
        """Park ``frame`` (an ``av.VideoFrame``) as the newest one; never waits on the consumer."""
        now = time.monotonic()
        with self._cond:
            self._latest = (frame, now)
            self._seq += 1
            self.received += 1
            self._arrivals.append(now)
            self._cond.notify_all()

    def end(self, lost: str | None = None) -> None:
        """No more frames: the track ended (``lost`` None) or the connection broke (``lost`` says how)."""
        with self._cond:
            self._ended = True
            self._lost = lost
            self._cond.notify_all()

    def receive_fps(self) -> float:
        """Frames arriving per second over the last ~2 s (what the network delivers, before drops)."""
        with self._cond:
            if len(self._arrivals) < 2:
                return 0.0
            recent = [t for t in self._arrivals if t >= self._arrivals[-1] - 2.0]
            span = recent[-1] - recent[0]
            return (len(recent) - 1) / span if span > 0 and len(recent) > 1 else 0.0

    # ------------------------------------------------------------------ consumer (pipeline thread)

    def __iter__(self) -> Iterator[Frame]:
        seen = 0
        while True:
            with self._cond:
                timeout = self.first_frame_timeout_s if seen == 0 else self.timeout_s

                def ready(last: int = seen) -> bool:
                    return self._seq > last or self._closed or self._ended

                got = self._cond.wait_for(ready, timeout)
                if self._closed:
                    return
                if self._seq == seen:  # nothing new: ended, or timed out
                    if self._ended:
                        if self._lost is not None:
                            raise SourceLost(f"{self.name}: {self._lost}")
                        return
                    if not got:
                        state = "stopped sending video" if seen else "sent no video"
                        raise SourceLost(f"{self.name} {state} for {timeout:g} s")
                    continue
                self.dropped += self._seq - seen - 1
                seen = self._seq
                assert self._latest is not None
                frame, received_at = self._latest
                self._latest = None  # the consumer owns it now; the slot keeps no frame alive
            image = frame.to_ndarray(format="rgb24")
            pts = frame.pts
            self.current = FrameInfo(
                rtp=None if pts is None or self.wire_rtp is None else self.wire_rtp(int(pts)),
                received_at=received_at,
                width=int(image.shape[1]),
                height=int(image.shape[0]),
            )
            yield Frame(image, self._time_of(pts, frame.time_base, received_at))

    def _time_of(self, pts: int | None, time_base: Any, received_at: float) -> float:
        """Seconds since the first frame, from the sender's timestamps when it sends them.

        Sender time is steadier than arrival time (no network jitter), which the tracker's motion
        model likes. It is unwrapped across the 32-bit RTP rollover, so a sender that restarts its
        clock (aiortc hands that over as a jump of nearly 2**32) comes out as the jump back it is;
        the pipeline's :class:`~realtime.timeline.Timeline` then starts a new segment.
        """
        if pts is None or time_base is None:
            return received_at - self._start
        if self._last_pts is not None:
            step = (int(pts) - self._last_pts) % _RTP_WRAP
            self._ticks += step - _RTP_WRAP if step >= _RTP_WRAP // 2 else step
        self._last_pts = int(pts)
        return float(self._ticks * time_base)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._latest = None
            self._cond.notify_all()


def wire_timestamps(receiver: Any) -> Callable[[int], int | None]:
    """``pts -> the frame's RTP timestamp on the wire`` for frames from ``receiver``.

    aiortc numbers a received track's frames from 0 (it subtracts the first frame's RTP timestamp
    and unwraps), but the page knows its frames by the RTP timestamps it sent. aiortc keeps the
    origin only in a private attribute; if a release renames it, this returns None and the page
    falls back to server time + half the round trip (the Chromium test notices).
    """
    mapper = getattr(receiver, "_RTCRtpReceiver__timestamp_mapper", None)

    def wire(pts: int) -> int | None:
        origin = getattr(mapper, "_origin", None)
        return None if origin is None else (pts + int(origin)) % _RTP_WRAP

    return wire


async def pump(track: Any, source: TrackFrameSource) -> None:
    """Read ``track`` until it ends, parking every frame in ``source`` (runs on the event loop)."""
    from aiortc.mediastreams import MediaStreamError

    try:
        while True:
            frame = await track.recv()
            source.put(frame)
    except MediaStreamError:
        source.end()


async def drain(track: Any) -> None:
    """Read and discard a track nobody analyses, so aiortc never queues its frames."""
    from aiortc.mediastreams import MediaStreamError

    try:
        while True:
            await track.recv()
    except MediaStreamError:
        return
