"""``callshield serve``: the browser page and WHIP ingest, each peer analysed live.

Open the printed URL, share a camera or the tab/window of a web call, and the page shows a box
and a gauge per face; or point OBS (Settings > Stream > WHIP) at ``/whip``. Every peer gets its
own detector session on its own thread; ``--events`` collects WHIP sessions' events as JSON
Lines. Binding beyond this machine (``--host``) needs ``--token``. Ctrl-C stops and closes every
peer.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from realtime.commands.common import add_model_arguments, check_model_arguments, load_session
from realtime.errors import UserError

if TYPE_CHECKING:
    from realtime.session import DetectorSession

TOKEN_ENV = "CALLSHIELD_TOKEN"  # realtime.webrtc.auth.TOKEN_ENV, repeated to keep this import light


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; others need --token)",
    )
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0 picks a free one)")
    parser.add_argument(
        "--token",
        default=None,
        metavar="SECRET",
        help=f"require 'Authorization: Bearer SECRET' from the page and WHIP clients "
        f"(default: ${TOKEN_ENV} if set)",
    )
    parser.add_argument(
        "--events",
        type=Path,
        default=None,
        metavar="FILE",
        help="write WHIP sessions' events to FILE as JSON Lines (the event contract plus 'peer')",
    )
    parser.add_argument(
        "--max-peers",
        type=int,
        default=4,
        metavar="N",
        help="peers connected at once; more get 503 (default 4)",
    )
    add_model_arguments(parser)


def check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be refused before a model is loaded or a port is bound."""
    from realtime.webrtc.auth import check_bind

    if args.token is None:
        args.token = os.environ.get(TOKEN_ENV) or None
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, not {args.port}")
    if args.max_peers < 1:
        raise UserError("--max-peers must be at least 1")
    if args.events is not None:
        if args.events.is_dir():
            raise UserError(f"--events {args.events} is a folder; give a file name")
        if not args.events.parent.is_dir():
            raise UserError(f"--events: folder {args.events.parent} does not exist")
    check_model_arguments(args)
    check_bind(args.host, args.token)


def peer_session_factory(args: argparse.Namespace) -> tuple[DetectorSession, Callable[[], DetectorSession]]:
    """Load the model once (a bad ``--model`` fails here, in one line) and a factory of sessions
    that share it: each peer gets its own face detector, tracker and risk state."""
    first = load_session(args)
    first.detector.close()  # each peer makes its own

    def make_session() -> DetectorSession:
        from realtime.session import DetectorSession, make_face_detector

        return DetectorSession(
            first.backend,
            detector=make_face_detector("full"),
            detect_tiles=args.tiles,
            detect_every=args.detect_every,
        )

    return first, make_session


def run(args: argparse.Namespace) -> int:
    try:
        import aiohttp  # noqa: F401
        import aiortc  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"serve needs aiohttp and aiortc ({exc.name} is missing): pip install 'callshield[live]'"
        ) from None
    check_arguments(args)

    import asyncio

    from realtime.webrtc.analysis import AnalyseEachPeer
    from realtime.webrtc.auth import is_loopback
    from realtime.webrtc.channel import EventLog
    from realtime.webrtc.ice import include_loopback_candidates
    from realtime.webrtc.runner import freeze_startup_heap, run_until_cancelled
    from realtime.webrtc.server import ServerConfig, SignallingServer

    first, make_session = peer_session_factory(args)
    freeze_startup_heap()
    config = ServerConfig(host=args.host, port=args.port, token=args.token, max_peers=args.max_peers)
    if is_loopback(config.host):
        include_loopback_candidates()
    event_log = EventLog(args.events) if args.events is not None else None
    server = SignallingServer(config, AnalyseEachPeer(make_session, event_log))

    def ready(port: int) -> None:
        url = config.url(port)
        fragment = "#token=<your token>" if config.token else ""
        print(
            f"serving {url}/{fragment} (page) and {url}/whip (WHIP) with {first.meta.model_version} "
            f"on {first.provider}; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )

    try:
        asyncio.run(run_until_cancelled(server, ready))
    except KeyboardInterrupt:
        pass
    finally:
        if event_log is not None:
            event_log.close()
    print(f"stopped; {server.answered} peers served", file=sys.stderr)
    return 0
