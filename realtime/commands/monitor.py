"""``callshield monitor --source 0|FILE|screen[:x,y,w,h]``: the live loop, events as JSON Lines.

``--headless`` prints one JSON event per face per frame to stdout (or ``--events FILE``). The
on-screen overlay (per-face gauges) arrives with the ``overlay`` package; until then the verb says
so once on stderr and runs headless. A file source plays at its own frame rate, like a call would.
Stop with Ctrl-C: the run ends cleanly with a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime.commands.common import add_model_arguments, check_model_arguments, load_session
from realtime.errors import UserError

GUI_NOTE = (
    "note: the on-screen overlay is not part of this build yet (it arrives with the overlay package); "
    "running headless, events as JSON Lines"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        required=True,
        metavar="SPEC",
        help="camera index (0), a video file, a folder of images, screen / screen:x,y,w,h, "
        "or whip / whip:[HOST:]PORT (WHIP ingest, e.g. from OBS; a non-loopback HOST needs "
        "$CALLSHIELD_TOKEN)",
    )
    parser.add_argument("--headless", action="store_true", help="no window: print JSON Lines events")
    parser.add_argument(
        "--events",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the JSON Lines events to FILE instead of stdout",
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="stop after N processed frames"
    )


def run(args: argparse.Namespace) -> int:
    from realtime.pipeline import Pipeline
    from realtime.sinks import JsonlSink
    from realtime.sources import open_source

    if args.max_frames is not None and args.max_frames < 1:
        raise UserError("--max-frames must be at least 1")
    check_model_arguments(args)
    if args.events is not None and not args.events.parent.is_dir():
        raise UserError(f"--events: folder {args.events.parent} does not exist")
    if not args.headless:
        print(GUI_NOTE, file=sys.stderr, flush=True)

    source = open_source(args.source, paced=True)
    try:
        session = load_session(args)
        sink = JsonlSink(args.events if args.events is not None else "-")
    except BaseException:
        source.close()
        raise
    print(
        f"monitoring {source.name} with {session.meta.model_version} on {session.provider}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    pipeline = Pipeline(source, session, [sink], max_frames=args.max_frames)
    try:
        stats = pipeline.run()
    finally:
        session.close()
    print(stats.summary(), file=sys.stderr)
    for warning in source.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
