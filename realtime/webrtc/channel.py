"""Where a WebRTC peer's results go: its page (an RTCDataChannel) and, for WHIP, an events file.

Both are :class:`~realtime.sinks.Sink` s on the pipeline's thread. aiortc objects belong to the
event loop, so :class:`EventChannelSink` only serialises the message there and hands the sending
to the loop (``call_soon_threadsafe``); a channel whose reader lags (more than
:data:`MAX_BUFFERED_BYTES` unsent) skips messages instead of queueing them, so the page always
shows the present. The message carries the frame's RTP timestamp, which lets the page measure
frame-sent -> event-shown latency against its own clock; images never leave the server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from realtime.events import FaceEvent
from realtime.sinks import FrameResult, SinkClosed
from realtime.webrtc.track import TrackFrameSource

# ~100 messages of a few faces: past this the page is not reading, and older news is worthless.
MAX_BUFFERED_BYTES = 64 * 1024


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class RateMeter:
    """Events per second over the last ``span_s`` seconds (thread-confined to its caller)."""

    def __init__(self, span_s: float = 2.0) -> None:
        self.span_s = span_s
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        while self._times and self._times[0] < now - self.span_s:
            self._times.popleft()
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


def frame_message(
    peer_id: str, result: FrameResult, source: TrackFrameSource, fps: float, now: float
) -> dict[str, Any]:
    """The page's view of one processed frame: its events plus where the frame came from."""
    info = source.current
    height, width = result.image.shape[:2]
    return {
        "type": "frame",
        "peer": peer_id,
        "frame": result.index,
        "t": round(result.t, 4),
        "segment": result.segment,
        "rtp": None if info is None else info.rtp,
        "size": [int(width), int(height)],
        "server_ms": None if info is None else round((now - info.received_at) * 1000.0, 1),
        "fps": round(fps, 1),
        "recv_fps": round(source.receive_fps(), 1),
        "dropped": source.dropped,
        "events": [event.to_dict() for event in result.events],
    }


class EventChannelSink:
    """Sends every processed frame's message to the channels ``channels()`` returns (loop side).

    ``channels`` is called on the event loop, so the set of watchers can change between frames
    without locks. ``sent`` / ``skipped`` count messages per channel send, for tests and stats.
    """

    def __init__(
        self,
        peer_id: str,
        loop: asyncio.AbstractEventLoop,
        channels: Callable[[], Iterable[Any]],
        source: TrackFrameSource,
    ) -> None:
        self.peer_id = peer_id
        self.loop = loop
        self.channels = channels
        self.source = source
        self.sent = 0
        self.skipped = 0
        self._rate = RateMeter()

    def consume(self, result: FrameResult) -> None:
        now = time.monotonic()
        text = dumps(frame_message(self.peer_id, result, self.source, self._rate.tick(now), now))
        try:
            self.loop.call_soon_threadsafe(self._send, text)
        except RuntimeError:  # the loop is closed: the server is gone
            raise SinkClosed("the server stopped") from None

    def _send(self, text: str) -> None:
        for channel in list(self.channels()):
            if channel.readyState != "open" or channel.bufferedAmount > MAX_BUFFERED_BYTES:
                self.skipped += 1
                continue
            try:
                channel.send(text)
                self.sent += 1
            except Exception:  # closed between the check and the send
                self.skipped += 1

    def close(self) -> None:
        """Nothing to release: the channels belong to their peer connections."""


class EventLog:
    """One JSON Lines file for every WHIP session: the event contract plus ``"peer"``, one per line.

    Several peers' pipeline threads write to it, so lines are written whole under a lock and
    flushed, so ``tail -f`` sees complete lines.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stream = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.lines = 0

    def write(self, peer_id: str, events: list[FaceEvent]) -> None:
        if not events:
            return
        text = "".join(
            json.dumps({**e.to_dict(), "peer": peer_id}, separators=(", ", ": ")) + "\n" for e in events
        )
        with self._lock:
            if self._stream.closed:
                return
            self._stream.write(text)
            self._stream.flush()
            self.lines += len(events)

    def close(self) -> None:
        with self._lock:
            self._stream.close()


class EventLogSink:
    """A peer's view of the shared :class:`EventLog` (the log outlives the peer)."""

    def __init__(self, log: EventLog, peer_id: str) -> None:
        self.log = log
        self.peer_id = peer_id

    def consume(self, result: FrameResult) -> None:
        self.log.write(self.peer_id, result.events)

    def close(self) -> None:
        """The server closes the log once, at shutdown."""
