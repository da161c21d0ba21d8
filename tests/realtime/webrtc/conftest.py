"""Fixtures of the WebRTC tests: a real server on loopback, running the shipped model per peer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("aiohttp", reason="the WebRTC server needs aiohttp (pip install 'callshield[live]')")
pytest.importorskip("aiortc", reason="the WebRTC server needs aiortc (pip install 'callshield[live]')")

from realtime.webrtc.analysis import AnalyseEachPeer  # noqa: E402
from realtime.webrtc.ice import include_loopback_candidates  # noqa: E402
from realtime.webrtc.runner import ServerThread  # noqa: E402
from realtime.webrtc.server import ServerConfig, SignallingServer  # noqa: E402

# Every peer in these tests is on this machine: offer 127.0.0.1 so ICE works even where lo is the
# only interface (a CI network namespace).
include_loopback_candidates()


@pytest.fixture(scope="session")
def make_session() -> Iterator[Callable[[], object]]:
    """A factory of detector sessions sharing one loaded shipped model, as ``serve`` makes them."""
    from realtime.session import DetectorSession, make_face_detector

    first = DetectorSession.load(None)

    def make() -> DetectorSession:
        return DetectorSession(first.backend, detector=make_face_detector("full"))

    yield make
    first.close()


@pytest.fixture
def start_server(make_session: Callable[[], object]) -> Iterator[Callable[..., ServerThread]]:
    """Start real servers on free loopback ports; each is stopped (and checked clean) at teardown."""
    from realtime.webrtc.channel import EventLog

    started: list[tuple[ServerThread, EventLog | None]] = []

    def start(events: Path | None = None, **config: object) -> ServerThread:
        log = EventLog(events) if events is not None else None
        server = SignallingServer(
            ServerConfig(port=0, **config),  # type: ignore[arg-type]
            AnalyseEachPeer(make_session, log),
        )
        thread = ServerThread(server).start()
        started.append((thread, log))
        return thread

    yield start
    for thread, log in started:
        thread.stop()
        if log is not None:
            log.close()
    assert not [t.name for t in threading.enumerate() if t.name == "callshield-server"]
