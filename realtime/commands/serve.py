"""``callshield serve``: the browser page and WHIP ingest, each peer analysed live.

Open the printed URL, share a camera or the tab/window of a web call, and the page shows a box
and a gauge per face; or point OBS (Settings > Stream > WHIP) at ``/whip``. Every peer gets its
own detector session on its own thread; ``--events`` collects WHIP sessions' events as JSON
Lines. Binding beyond this machine (``--host``) needs ``--token``. Ctrl-C stops and closes every
peer.

``--ray [ADDRESS]`` keeps this front as it is and moves the analysis onto Ray
(:mod:`realtime.fleet`): a Ray actor per peer, and one Ray Serve encoder deployment batching every
stream's crops (``--replicas`` of it; GPU replicas with ``--device cuda``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from realtime.commands.common import add_model_arguments, check_model_arguments, load_session
from realtime.errors import UserError

if TYPE_CHECKING:
    from realtime.fleet.cluster import Fleet
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
    add_ray_arguments(parser)


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]`` and ``--replicas``, shared with ``bench --webrtc``."""
    group = parser.add_argument_group(
        "Ray", "--ray: each peer's analysis on a Ray actor (pip install 'callshield[fleet]')"
    )
    group.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run each peer's tracking on a Ray actor and the encoder as one Ray Serve deployment "
        "batching all streams; alone: a local Ray on this machine; ADDRESS (HOST:PORT or auto): "
        "join that running cluster",
    )
    group.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="encoder replicas with --ray (default 1; each takes a GPU with --device cuda)",
    )


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
    check_ray_arguments(args)


def check_ray_arguments(args: argparse.Namespace) -> None:
    """With ``--ray``: Ray importable, a sane replica count, an address that answers."""
    if args.ray is None:
        if args.replicas != 1:
            raise UserError("--replicas is for --ray (encoder replicas on Ray Serve)")
        return
    from realtime.fleet import require_ray

    require_ray()
    if args.replicas < 1:
        raise UserError("--replicas must be at least 1")
    if args.ray != "local":
        from realtime.fleet.cluster import check_address

        check_address(args.ray)


def peer_session_factory(args: argparse.Namespace) -> tuple[DetectorSession, Callable[[], DetectorSession]]:
    """Load the model once (a bad ``--model`` fails here, in one line) and a factory of sessions
    that share it: each peer gets its own face detector, tracker and risk state."""
    first = load_session(args)
    first.close()  # its face detectors: each peer makes its own (left open, one crashed at exit)

    def make_session() -> DetectorSession:
        from realtime.session import DetectorSession, make_face_detector

        return DetectorSession(
            first.backend,
            detector=make_face_detector("full"),
            detect_tiles=args.tiles,
            detect_every=args.detect_every,
        )

    return first, make_session


def fleet_session_factory(args: argparse.Namespace) -> tuple[Fleet, Callable[[], Any]]:
    """``--ray``: check the model here (a bad ``--model`` is one line), then start or join Ray and
    deploy the encoder; the factory gives each peer a session whose work runs on its own actor."""
    from engines import ModelFileError, load_backend
    from realtime.fleet.cluster import Fleet, model_options

    options = model_options(args.model, getattr(args, "backend", "auto"), args.tiles, args.detect_every)
    try:
        meta = load_backend(options.model, backend=options.backend, device="cpu").meta
    except ModelFileError as exc:
        raise UserError(str(exc)) from None
    address = None if args.ray == "local" else args.ray
    fleet = Fleet(options, meta, address=address, device=args.device, replicas=args.replicas).start()
    return fleet, fleet.make_session


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

    fleet: Fleet | None = None
    make_session: Callable[[], Any]  # a DetectorSession, or a RemoteSession standing in for one
    if args.ray is None:
        first, make_session = peer_session_factory(args)
        model, where = first.meta.model_version, first.provider
    else:
        fleet, make_session = fleet_session_factory(args)
        cluster = "a local Ray" if fleet.started_ray else f"the Ray cluster at {args.ray}"
        model = fleet.meta.model_version
        where = f"{cluster} (a peer actor each, {args.replicas} encoder replica(s) on {fleet.provider})"
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
            f"serving {url}/{fragment} (page) and {url}/whip (WHIP) with {model} on {where}; Ctrl-C stops",
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
        if fleet is not None:
            fleet.close()
    print(f"stopped; {server.answered} peers served", file=sys.stderr)
    return 0
