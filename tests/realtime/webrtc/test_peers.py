"""Two aiortc peers in-process: one plays the real clip, the server analyses it and answers.

The server is the real one (HTTP on loopback, a pipeline thread per peer, the shipped model);
the client speaks the page's protocol or WHIP. After each scenario nothing may be left: no peer in
the registry, no task on the server's loop beyond its own, no pipeline thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np

from realtime.events import FaceEvent
from tests.realtime.webrtc.peers_helper import (
    ClipTrack,
    LoopedFileTrack,
    PageClient,
    count_tasks,
    new_threads,
    owned_threads,
    peer_threads,
    server_tasks_settle,
    wait_until,
    whip_publish,
)

REPO = Path(__file__).parents[3]


def _settle(threads_before: list[str]) -> None:
    """Wait (briefly) for the pipeline and aiortc's decoder threads to end; none may stay."""
    deadline = time.monotonic() + 10
    while new_threads(threads_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert peer_threads() == []
    assert new_threads(threads_before) == []


def test_page_peer_gets_face_events_for_the_real_clip_then_leaves_nothing(
    start_server, clip_320: list[np.ndarray]
) -> None:
    server = start_server()
    threads_before = owned_threads()
    tasks_before = server.call(count_tasks())

    async def scenario() -> None:
        client = PageClient(ClipTrack(clip_320))
        await client.connect(server.url)
        assert len(server.server.peers) == 1
        await client.wait_for(lambda c: sum(bool(m["events"]) for m in c.frames()) >= 20)
        frames = client.frames()
        with_faces = [m for m in frames if m["events"]]
        event = FaceEvent.from_dict(with_faces[-1]["events"][0])  # the event contract, intact
        assert event.track_id == 1 and event.state in ("uncertain", "real", "suspicious", "fake")
        x0, y0, x1, y1 = event.box
        assert 40 < (x0 + x1) / 2 < 280 and 30 < (y0 + y1) / 2 < 210  # carphone's face, mid-frame
        assert all(m["size"] == [320, 240] and m["peer"] == client.peer for m in frames)
        assert all(isinstance(m["rtp"], int) and m["server_ms"] >= 0 for m in frames)
        assert [m["frame"] for m in frames] == sorted({m["frame"] for m in frames})
        assert frames[-1]["recv_fps"] > 10

        client.channel.send("not json")  # junk from a page is ignored, the peer stays
        client.channel.send(json.dumps({"type": "ping", "t": 1.5}))
        await client.wait_for(lambda c: any(m.get("type") == "pong" for m in c.messages), 5)
        assert next(m for m in client.messages if m["type"] == "pong")["t"] == 1.5
        assert len(server.server.peers) == 1

        await client.close()  # the tab closes: the server must end the peer by itself
        await wait_until(lambda: len(server.server.peers) == 0)

    asyncio.run(scenario())
    _settle(threads_before)
    assert server_tasks_settle(server, tasks_before)


def test_whip_session_publish_watch_events_file_and_delete(
    start_server, clip_320: list[np.ndarray], tmp_path: Path
) -> None:
    events = tmp_path / "whip.jsonl"
    server = start_server(events=events)
    threads_before = owned_threads()

    async def scenario() -> None:
        pc, location = await whip_publish(f"{server.url}/whip", ClipTrack(clip_320))
        assert location.startswith("/whip/")
        session = location.rsplit("/", 1)[1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/sessions") as r:
                assert [s["id"] for s in (await r.json())["sessions"]] == [session]

            watcher = PageClient(None)  # a page watching the session: events only, no video
            await watcher.connect(server.url, watch=session)
            await watcher.wait_for(lambda c: sum(bool(m["events"]) for m in c.frames()) >= 5)
            assert {m["peer"] for m in watcher.frames()} == {session}

            await wait_until(lambda: events.exists() and len(events.read_text().splitlines()) >= 5)
            lines = [json.loads(line) for line in events.read_text().splitlines()]
            assert {line["peer"] for line in lines} == {session}
            assert FaceEvent.from_dict(lines[0]).track_id == 1  # contract + peer id

            async with http.patch(f"{server.url}{location}", data="a=candidate:x") as r:
                assert r.status == 405  # no trickle ICE: RFC 9725 asks for 405
            async with http.delete(f"{server.url}{location}") as r:
                assert r.status == 200
            await watcher.wait_for(lambda c: any(m.get("type") == "end" for m in c.messages), 5)
            await wait_until(lambda: len(server.server.peers) == 0)  # the watcher went with it
            async with http.delete(f"{server.url}{location}") as r:
                assert r.status == 404
        await pc.close()
        await watcher.close()

    asyncio.run(scenario())
    _settle(threads_before)


def test_a_publisher_looping_a_short_clip_gets_events_for_its_whole_push(
    start_server, clip_320: list[np.ndarray], tmp_path: Path
) -> None:
    """A 2.4 s clip looped for 12 s (H.264, as OBS sends): every restart of its timestamps opens a
    new time segment; events keep coming to the end and the session stays until DELETE."""
    events = tmp_path / "loop.jsonl"
    server = start_server(events=events)
    threads_before = owned_threads()
    push_s = 12.0

    async def scenario() -> None:
        track = LoopedFileTrack(clip_320[:72])
        pc, location = await whip_publish(f"{server.url}/whip", track, codec="H264")
        session = location.rsplit("/", 1)[1]
        watcher = PageClient(None)
        await watcher.connect(server.url, watch=session)
        await asyncio.sleep(push_s)
        assert track.sent >= 0.9 * push_s * 30  # the publisher really pushed all along
        async with aiohttp.ClientSession() as http, http.delete(f"{server.url}{location}") as r:
            assert r.status == 200
        await wait_until(lambda: len(server.server.peers) == 0)
        await pc.close()
        await watcher.close()
        frames = watcher.frames()
        # the page saw events to the end, over several segments, on one increasing clock
        assert max(m["segment"] for m in frames) >= 4
        arrived = [m["t"] for m in frames if m["events"]]
        assert arrived == sorted(arrived) and arrived[-1] - arrived[0] > push_s - 2.5

    asyncio.run(scenario())
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    seconds = {int(line["t"]) for line in lines}
    assert seconds >= set(range(int(push_s) - 1)), f"seconds of the push with no event: {sorted(seconds)}"
    _settle(threads_before)


def test_a_publisher_that_dies_without_a_word_is_ended_by_ice_consent(start_server, monkeypatch) -> None:
    """SIGKILL: no DELETE, no DTLS close. ICE consent checks (RFC 7675) must notice and end the peer.

    aioice checks consent every 5 s and gives up after 6 misses; the test checks every 0.2 s.
    """
    import aioice.ice

    import realtime.webrtc.analysis

    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    monkeypatch.setattr(realtime.webrtc.analysis, "FRAME_GAP_TIMEOUT_S", 60.0)  # ICE must be what notices
    server = start_server()
    threads_before = owned_threads()
    tasks_before = server.call(count_tasks())
    client = subprocess.Popen(
        [sys.executable, "-m", "tests.realtime.webrtc.whip_client", f"{server.url}/whip"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None
        session = client.stdout.readline().strip().rsplit("/", 1)[-1]
        peer = server.server.peers.get(session)
        assert peer is not None

        deadline = time.monotonic() + 20
        while (peer.source is None or peer.source.received < 15) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer.source is not None and peer.source.received >= 15
    finally:
        client.kill()
        client.wait(10)
    deadline = time.monotonic() + 20
    while len(server.server.peers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server.server.peers) == 0
    assert peer.reason.startswith("connection ")  # failed or closed, as aiortc saw it
    _settle(threads_before)
    assert server_tasks_settle(server, tasks_before)
