"""Fixtures of the Ray tests: one small local Ray per module (2 CPUs, no dashboard) with the real
encoder deployment of the shipped model, and real servers whose peers run on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="serve --ray needs Ray Serve (pip install 'callshield[fleet]')")
pytest.importorskip("aiortc", reason="the WebRTC server needs aiortc (pip install 'callshield[live]')")

from realtime.fleet.cluster import Fleet, model_options  # noqa: E402
from realtime.webrtc.analysis import AnalyseEachPeer  # noqa: E402
from realtime.webrtc.channel import EventLog  # noqa: E402
from realtime.webrtc.ice import include_loopback_candidates  # noqa: E402
from realtime.webrtc.runner import ServerThread  # noqa: E402
from realtime.webrtc.server import ServerConfig, SignallingServer  # noqa: E402

include_loopback_candidates()


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """A local Ray of 2 CPUs and the encoder deployment (1 CPU replica), stopped after the module."""
    from engines import load_backend

    options = model_options(None, "auto", "auto", 1)
    meta = load_backend(options.model).meta
    fleet = Fleet(options, meta, num_cpus=2).start()
    yield fleet
    fleet.close()


@pytest.fixture
def ray_server(fleet: Fleet, tmp_path: Path) -> Iterator[Callable[[], tuple[ServerThread, Path]]]:
    """Start the real server with every peer on ``fleet``; WHIP events go to a file per server."""
    started: list[tuple[ServerThread, EventLog]] = []

    def start() -> tuple[ServerThread, Path]:
        path = tmp_path / f"events-{len(started)}.jsonl"
        log = EventLog(path)
        server = SignallingServer(ServerConfig(port=0, max_peers=4), AnalyseEachPeer(fleet.make_session, log))
        thread = ServerThread(server).start()
        started.append((thread, log))
        return thread, path

    yield start
    for thread, log in started:
        thread.stop()
        log.close()
