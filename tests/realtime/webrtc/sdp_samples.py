"""Real SDP offers made by aiortc (a video sender; a data-channel-only watcher), and ways to break them.

Each ``break_*`` function returns an offer that no WebRTC stack could answer, with the reason it
must be refused, so a fuzz test can assert *every* answer is a 4xx rather than hope for it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from aiortc import RTCPeerConnection, VideoStreamTrack


def real_offers() -> tuple[str, str]:
    """(video offer, data-channel-only offer), as aiortc writes them."""

    async def make() -> tuple[str, str]:
        video = RTCPeerConnection()
        video.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await video.setLocalDescription(await video.createOffer())
        data = RTCPeerConnection()
        data.createDataChannel("events")
        await data.setLocalDescription(await data.createOffer())
        offers = (video.localDescription.sdp, data.localDescription.sdp)
        await video.close()
        await data.close()
        return offers

    return asyncio.run(make())


def _lines(sdp: str) -> list[str]:
    return sdp.replace("\r\n", "\n").strip("\n").split("\n")


def _join(lines: list[str]) -> str:
    return "\r\n".join(lines) + "\r\n"


def truncate_before_media(sdp: str, rng: random.Random) -> str:
    head = sdp[: sdp.index("m=")]
    return head[: rng.randint(0, len(head))]


def drop_attribute(name: str) -> Callable[[str, random.Random], str]:
    def drop(sdp: str, rng: random.Random) -> str:
        return _join([line for line in _lines(sdp) if not line.startswith(f"a={name}:")])

    drop.__name__ = f"drop_{name}"
    return drop


def junk_first_line(sdp: str, rng: random.Random) -> str:
    lines = _lines(sdp)
    lines[0] = rng.choice(["v=1", "x=0", "", "V=0", "v=0 extra", "\x00v=0", "HTTP/1.1 200 OK"])
    return _join(lines) if lines[0] else _join(lines[1:])


def insert_bad_line(sdp: str, rng: random.Random) -> str:
    lines = _lines(sdp)
    bad = rng.choice(["garbage", "=x", "A=upper", "ab=cd", "a=ctrl\x01char", "m", "a=bell\x07", " a=lead"])
    lines.insert(rng.randint(1, len(lines)), bad)
    return _join(lines)


def kill_video_port(sdp: str, rng: random.Random) -> str:
    return _join(
        [
            ("m=video 0 " + line.split(" ", 2)[2]) if line.startswith("m=video") else line
            for line in _lines(sdp)
        ]
    )


def bad_payload_types(sdp: str, rng: random.Random) -> str:
    bad = rng.choice(["abc", "-1", "96x", "1e3", "9.5"])
    return _join(
        [line.rsplit(" ", 1)[0] + f" {bad}" if line.startswith("m=video") else line for line in _lines(sdp)]
    )


def shuffle_lines(sdp: str, rng: random.Random) -> str:
    lines = _lines(sdp)
    rest = lines[1:]
    rng.shuffle(rest)
    return _join([rest[0]] + [lines[0]] + rest[1:])  # v=0 no longer first


def random_text(sdp: str, rng: random.Random) -> str:
    alphabet = 'v=0amsoct:\r\n \x00\xff{}[]"é漢'
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3000)))


BREAKERS: list[Callable[[str, random.Random], str]] = [
    truncate_before_media,
    drop_attribute("fingerprint"),
    drop_attribute("ice-ufrag"),
    drop_attribute("ice-pwd"),
    junk_first_line,
    insert_bad_line,
    kill_video_port,
    bad_payload_types,
    shuffle_lines,
    random_text,
]
