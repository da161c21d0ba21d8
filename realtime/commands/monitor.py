"""``callshield monitor --source 0|FILE|screen[:x,y,w,h]``: the live loop, in a window or as JSON Lines.

With a display (and PyQt6) it opens the overlay window (:mod:`overlay.app`): the video with each
face boxed in its state's colour, a gauge per face, alerts, a log, the source picker, pause,
sensitivity, the virtual camera switch and "Save report". ``--compact`` starts as the small
always-on-top bar strip; ``--exit-at-end`` closes the window when a file source ends;
``--report FILE`` writes FILE.png and FILE.json when the window closes.

``--headless``, or no display, prints one JSON event per face per frame to stdout (or
``--events FILE``), saying once on stderr why there is no window. A file source plays at its own
frame rate, like a call would. Stop with Ctrl-C (or by closing the window): the run ends cleanly
with a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime.commands.common import add_model_arguments, check_model_arguments, load_session
from realtime.errors import UserError

WINDOW_ONLY = ("--compact", "--exit-at-end", "--report")


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
        help="write the JSON Lines events to FILE (headless: instead of stdout)",
    )
    parser.add_argument(
        "--compact", action="store_true", help="window: start as the small always-on-top bar strip"
    )
    parser.add_argument(
        "--exit-at-end", action="store_true", help="window: close when a file source ends (scripted runs)"
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE",
        help="window: write FILE.png (gauges, risk history) and FILE.json (events) when it closes",
    )
    parser.add_argument("--sound", action="store_true", help="window: beep when a face turns fake")
    add_model_arguments(parser)
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="stop after N processed frames"
    )


def _window_status(args: argparse.Namespace) -> tuple[bool, str]:
    """Whether the window opens; a display whose Qt plugin cannot load is an error, not a fallback."""
    if args.headless:
        return False, "--headless"
    from overlay.display import display_status, platform_plugin_problem

    window, why_not = display_status()
    problem = platform_plugin_problem() if window else None
    if problem is not None:
        raise UserError(problem)  # before Qt can abort the process with its own page of text
    return window, why_not


def run(args: argparse.Namespace) -> int:
    if args.max_frames is not None and args.max_frames < 1:
        raise UserError("--max-frames must be at least 1")
    check_model_arguments(args)
    if args.events is not None and not args.events.parent.is_dir():
        raise UserError(f"--events: folder {args.events.parent} does not exist")
    if args.report is not None and not args.report.parent.is_dir():
        raise UserError(f"--report: folder {args.report.parent} does not exist")
    window, why_not = _window_status(args)
    asked = [flag for flag in WINDOW_ONLY if getattr(args, flag[2:].replace("-", "_"))]
    if not window and asked:
        hint = "" if args.headless else " (to run the window without a screen: QT_QPA_PLATFORM=offscreen)"
        raise UserError(f"{', '.join(asked)} need the window, and there is none: {why_not}{hint}")
    if not window and not args.headless:
        print(f"note: {why_not}; running headless, events as JSON Lines", file=sys.stderr, flush=True)
    return run_window(args) if window else run_headless(args)


def run_headless(args: argparse.Namespace) -> int:
    from realtime.pipeline import Pipeline
    from realtime.sinks import JsonlSink
    from realtime.sources import open_source

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


def run_window(args: argparse.Namespace) -> int:
    from realtime.sinks import JsonlSink, Sink
    from realtime.sources import open_source

    source = open_source(args.source, paced=True)
    try:
        session = load_session(args)
    except BaseException:
        source.close()
        raise
    from overlay.app import run_overlay
    from overlay.window import OverlayOptions

    extra: list[Sink] = [JsonlSink(args.events)] if args.events is not None else []
    print(
        f"monitoring {source.name} with {session.meta.model_version} on {session.provider} in a window; "
        "close it or press Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    options = OverlayOptions(
        compact=args.compact,
        exit_at_end=args.exit_at_end,
        report=args.report,
        sound=args.sound,
        max_frames=args.max_frames,
    )
    try:
        code = run_overlay(session, source, options, extra)
    finally:
        session.close()
    for warning in source.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return code
