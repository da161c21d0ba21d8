"""A WHIP publisher in a process of its own, for the test that kills it without a goodbye.

``python -m tests.realtime.webrtc.whip_client URL`` publishes carphone (320x240, 30 fps) to URL,
prints the session's Location on stdout once the server answered, and sends until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

import cv2

from realtime.webrtc.ice import include_loopback_candidates
from tests.media import carphone_path, read_frames
from tests.realtime.webrtc.peers_helper import ClipTrack, whip_publish


async def main(url: str) -> None:
    include_loopback_candidates()
    frames = [cv2.resize(f, (320, 240)) for f in read_frames(carphone_path(), limit=60)]
    pc, location = await whip_publish(url, ClipTrack(frames))
    print(location, flush=True)
    await asyncio.Event().wait()  # until killed
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
