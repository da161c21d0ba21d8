"""``serve --ray`` with real parts: a local Ray, the encoder deployment of the shipped model, the
real server on loopback and aiortc WHIP publishers playing carphone at 640x480, 30 fps.

What is measured is what the events file gets: one line per analysed frame with a face, so a
peer's lines per second is its analysed fps.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import ray

from realtime.fleet.peer import ACTOR_PREFIX, NAMESPACE
from tests.realtime.webrtc.peers_helper import ClipTrack, wait_until, whip_publish

MIN_FPS = 15.0


def _lines(path: Path) -> list[dict]:
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.endswith("}")]


def _counts(path: Path) -> Counter[str]:
    return Counter(line["peer"] for line in _lines(path))


def _peer_actors() -> list[str]:
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == NAMESPACE]
    return sorted(n for n in names if n.startswith(ACTOR_PREFIX))


async def _publish_two(url: str, clip: list[np.ndarray], events: Path) -> tuple[list, list[str]]:
    pcs, ids = [], []
    for _ in range(2):
        pc, location = await whip_publish(f"{url}/whip", ClipTrack(clip))
        pcs.append(pc)
        ids.append(location.rsplit("/", 1)[1])
    # actors start (MediaPipe, ONNX Runtime, the deployment's handle) and tracks warm up
    await wait_until(lambda: all(_counts(events)[i] >= 30 for i in ids), timeout=90)
    return pcs, ids


async def _rates(events: Path, ids: list[str], seconds: float) -> dict[str, float]:
    before = _counts(events)
    start = time.monotonic()
    await asyncio.sleep(seconds)
    after = _counts(events)
    elapsed = time.monotonic() - start
    return {i: (after[i] - before[i]) / elapsed for i in ids}


def test_two_whip_peers_on_ray_each_get_15_fps_through_one_batched_encoder(
    ray_server, fleet, clip_640: list[np.ndarray]
) -> None:
    server, events = ray_server()

    async def scenario() -> None:
        pcs, ids = await _publish_two(server.url, clip_640, events)
        assert _peer_actors() == sorted(f"{ACTOR_PREFIX}-{i}-1" for i in ids)  # one actor per peer
        counts_before = await asyncio.to_thread(fleet.counts)
        rates = await _rates(events, ids, 8.0)
        batches = (await asyncio.to_thread(fleet.counts)).since(counts_before).summary()
        print("fps per peer", rates, "encoder", batches)
        assert all(rate >= MIN_FPS for rate in rates.values()), rates
        # a face is encoded every `stride`-th frame: those crops all went through the deployment
        frames = sum(rates.values()) * 8.0
        assert batches["requests"] >= 0.8 * frames / fleet.meta.stride, (frames, batches)
        assert batches["crops"] == batches["requests"]  # one face per frame
        assert batches["calls"] <= batches["requests"]
        lines = _lines(events)
        assert {line["state"] for line in lines} <= {"uncertain", "real", "suspicious", "fake"}
        assert any(line["p_fake"] is not None for line in lines)  # windows filled: the head ran
        for pc in pcs:
            await pc.close()
        await wait_until(lambda: len(server.server.peers) == 0, timeout=20)
        await wait_until(lambda: _peer_actors() == [], timeout=20)  # actors end with their peers

    asyncio.run(scenario())
