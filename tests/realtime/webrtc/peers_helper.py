"""aiortc clients for the tests: a self-paced clip player, the page's protocol and a WHIP publisher.

``ClipTrack`` decodes nothing at run time: it plays frames already in memory, paced by aiortc's
``next_timestamp()`` (TESTING.md: MediaPlayer with loop=True is unpaced after its first pass).
"""

from __future__ import annotations

import asyncio
import fractions
import json
import threading
import time
from collections import Counter
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription, VideoStreamTrack


class ClipTrack(VideoStreamTrack):
    """Plays RGB frames in a loop at 30 fps (``limit``: stop after that many frames)."""

    def __init__(self, frames: list[np.ndarray], limit: int | None = None) -> None:
        super().__init__()
        self.frames = [av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames]
        self.limit = limit
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        from aiortc.mediastreams import MediaStreamError

        if self.limit is not None and self.sent >= self.limit:
            self.stop()
            raise MediaStreamError
        pts, time_base = await self.next_timestamp()
        frame = self.frames[self.sent % len(self.frames)]
        out = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
        out.pts, out.time_base = pts, time_base
        self.sent += 1
        return out


class LoopedFileTrack(VideoStreamTrack):
    """A sender looping a short file as ``MediaPlayer(loop=True)`` means to: timestamps restart at
    0 on every pass, frames paced at 30 fps by the wall clock (TESTING.md: aiortc's own player is
    unpaced after its first pass, and stops on H.264 with B-frames)."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        super().__init__()
        self.frames = [av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames]
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        index = self.sent
        self.sent += 1
        wait = self._start + index / 30 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = self.frames[index % len(self.frames)]
        out = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
        out.pts, out.time_base = (index % len(self.frames)) * 3000, fractions.Fraction(1, 90000)
        return out


class PageClient:
    """What the browser page does, in aiortc: a video sender plus an "events" data channel.

    ``video=None`` makes a watcher (data channel only). Messages from the server land in
    ``messages`` (parsed JSON).
    """

    def __init__(self, video: ClipTrack | None) -> None:
        self.pc = RTCPeerConnection()
        self.video = video
        self.channel = self.pc.createDataChannel("events")
        self.messages: list[dict[str, Any]] = []
        self.opened = asyncio.Event()
        self.channel.on("open", self.opened.set)
        self.channel.on("message", lambda m: self.messages.append(json.loads(m)))
        if video is not None:
            self.pc.addTransceiver(video, direction="sendonly")
        self.peer: str | None = None

    async def connect(self, url: str, token: str | None = None, watch: str | None = None) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body: dict[str, Any] = {"type": "offer", "sdp": self.pc.localDescription.sdp}
        if watch is not None:
            body["watch"] = watch
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/offer", json=body, headers=headers) as r,
        ):
            assert r.status == 200, await r.text()
            answer = await r.json()
        self.peer = answer["peer"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    def frames(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "frame"]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        async def poll() -> None:
            while not predicate(self):
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), timeout)

    async def close(self) -> None:
        await self.pc.close()


async def whip_publish(
    url: str, video: VideoStreamTrack, token: str | None = None, codec: str | None = None
) -> tuple[RTCPeerConnection, str]:
    """Publish ``video`` to ``url`` (the /whip endpoint) like OBS: returns the pc and the Location.

    ``codec`` (e.g. ``"H264"``, what OBS sends) offers only that codec; default: aiortc's list.
    """
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver(video, direction="sendonly")
    if codec is not None:
        wanted = f"video/{codec}".lower()
        transceiver.setCodecPreferences(
            [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == wanted]
        )
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"Content-Type": "application/sdp"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=pc.localDescription.sdp, headers=headers) as r,
    ):
        assert r.status == 201, await r.text()
        assert r.headers["Content-Type"].startswith("application/sdp")
        location = r.headers["Location"]
        answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc, location


def peer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("callshield-peer")]


def owned_threads() -> list[str]:
    """Every thread but the event loops' default-executor workers ("asyncio_N"): socket address
    lookups (ICE gathering, binding) run there, in a pool that is bounded and reused, not leaked."""
    return sorted(t.name for t in threading.enumerate() if not t.name.startswith("asyncio_"))


def new_threads(before: list[str]) -> list[str]:
    """Threads running now that were not running at ``before`` (threads of earlier tests, such as
    a camera reader finishing, may end meanwhile: only new ones count as leaks)."""
    return sorted((Counter(owned_threads()) - Counter(before)).elements())


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    """Poll a plain condition (e.g. a server's peer count) until true, or fail the test."""

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def count_tasks() -> int:
    """Tasks on the running loop, not counting the one asking (run it with ``ServerThread.call``)."""
    return len(asyncio.all_tasks()) - 1


def server_tasks_settle(server: Any, expected: int, timeout: float = 5.0) -> bool:
    """True once the server's loop is back to ``expected`` tasks.

    aiortc's connect task of a just-closed connection needs a few loop turns to see the close; a
    leaked task never settles.
    """
    deadline = time.monotonic() + timeout
    while server.call(count_tasks()) != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


async def publish_until_events(url: str, clip: list[np.ndarray], events: Any, lines: int) -> str:
    """Publish ``clip`` to ``url``'s /whip until ``events`` (an --events file) has ``lines`` lines
    (or 60 s pass), then DELETE the session as OBS does; returns the session id."""
    from pathlib import Path

    path = Path(events)
    pc, location = await whip_publish(f"{url}/whip", ClipTrack(clip))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not path.exists() or len(path.read_text().splitlines()) < lines):
        await asyncio.sleep(0.1)
    async with aiohttp.ClientSession() as http, http.delete(url + location) as r:
        assert r.status == 200
    await pc.close()
    return location.rsplit("/", 1)[1]
