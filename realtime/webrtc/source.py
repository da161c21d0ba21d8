"""``--source whip[:[HOST:]PORT]``: the frames of one WHIP publisher (OBS) as a live source.

This is how ``monitor`` and ``vcam`` (and the desktop overlay) analyse a WebRTC-ingested stream:
:func:`realtime.sources.open_source` builds a :class:`WhipSource`, which runs the WHIP endpoint
(:mod:`.whip`, without the page) on a background thread and hands the publisher's video to the
caller's own pipeline, newest frame first, like a camera. One publisher at a time (a second gets
503); the stream waits for the first publisher, ends when it sends DELETE, and is lost (SourceLost)
if its connection fails. A non-loopback host needs a token, read from ``$CALLSHIELD_TOKEN``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from realtime.errors import InputError
from realtime.webrtc.auth import TOKEN_ENV, check_bind, is_loopback
from realtime.webrtc.peers import Peer
from realtime.webrtc.track import PAUSE_LIMIT_S, TrackFrameSource, pump, wire_timestamps
from realtime.webrtc.whip import DELETED, ENDPOINT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
_SPEC = re.compile(r"whip(?::(?:(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]]+):)?(?P<port>\d{1,5}))?")


def parse_whip_spec(spec: str) -> tuple[str, int]:
    """``whip`` -> 127.0.0.1:8080; ``whip:PORT``; ``whip:HOST:PORT`` (``[::1]`` for IPv6)."""
    match = _SPEC.fullmatch(spec.strip())
    port = int(match["port"]) if match and match["port"] else DEFAULT_PORT
    if match is None or not 0 <= port <= 65535:
        raise InputError(f"bad WHIP source {spec!r}: expected whip, whip:PORT or whip:HOST:PORT")
    host = (match["host"] or DEFAULT_HOST).strip("[]")
    return host, port


class WhipSource(TrackFrameSource):
    """A WHIP endpoint whose one publisher's video is this source's frames."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, token: str | None = None) -> None:
        from realtime.webrtc.ice import include_loopback_candidates
        from realtime.webrtc.runner import ServerThread
        from realtime.webrtc.server import ServerConfig, SignallingServer

        check_bind(host, token, flag=f"${TOKEN_ENV}")
        # Waits for its publisher as long as it takes; after that, a pause of PAUSE_LIMIT_S is a lost stream.
        super().__init__("WHIP publisher", first_frame_timeout_s=None, timeout_s=PAUSE_LIMIT_S)
        config = ServerConfig(host=host, port=port, token=token, max_peers=1, page=False)
        if is_loopback(host):
            include_loopback_candidates()
        self._publishers = 0
        self._server = ServerThread(SignallingServer(config, self))
        self._server.start()
        self.url = f"{self._server.url}{ENDPOINT}"
        self.name = f"WHIP ingest at {self.url}"

    def on_video(self, peer: Peer, track: Any) -> None:
        """The server's video handler: the first publisher feeds this source; later ones are ended."""
        self._publishers += 1
        if self._publishers > 1:
            peer.close_soon("this source takes one publisher per run")
            return
        receiver = next((r for r in peer.pc.getReceivers() if r.track is track), None)
        self.wire_rtp = None if receiver is None else wire_timestamps(receiver)
        peer.source = self

        async def finished() -> None:
            self.end(None if peer.reason == DELETED else f"the publisher's {peer.reason}")

        peer.cleanups.append(finished)
        peer.spawn(pump(track, self), "pump")

    def close(self) -> None:
        super().close()
        self._server.stop()


def open_whip_source(spec: str) -> WhipSource:
    """``open_source``'s entry point: parse the spec, check the optional packages, start."""
    host, port = parse_whip_spec(spec)
    try:
        import aiohttp  # noqa: F401
        import aiortc  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"--source whip needs aiohttp and aiortc ({exc.name} is missing): pip install 'callshield[live]'"
        ) from None
    return WhipSource(host, port, os.environ.get(TOKEN_ENV) or None)
