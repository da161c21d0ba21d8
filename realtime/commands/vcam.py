"""``callshield vcam --source 0|screen[:x,y,w,h]|FILE``: the source as a virtual camera, risk burnt in.

Zoom, Meet or OBS then pick "CallShield" as their camera. ``--style annotated`` draws boxes and a
gauge per face, ``badge`` a small risk pill per face, ``clean`` passes the frames through (route a
screen-captured call into a recorder). The output runs at ``--fps`` whatever the detector's speed:
the newest annotations go on the current frame (:mod:`realtime.vcam`).

The order of work makes failures cheap: the source is opened, a virtual camera is opened and closed
once (no backend: one ``error:`` line naming each backend's reason and the fix, exit 4), the model
is loaded, and only then does the source start playing; its first frame sizes the camera. Ctrl-C or
the end of a file stops it with a summary on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime.commands.common import add_model_arguments, check_model_arguments, load_session
from realtime.errors import UserError

STYLE_CHOICES = ("annotated", "badge", "clean")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        required=True,
        metavar="SPEC",
        help="camera index (0), a video file, a folder of images, or screen / screen:x,y,w,h",
    )
    parser.add_argument(
        "--style",
        default="annotated",
        choices=STYLE_CHOICES,
        help="annotated: boxes and gauges; badge: a small risk badge per face; clean: frames as they are",
    )
    parser.add_argument("--fps", type=float, default=30.0, help="output frame rate (default 30)")
    parser.add_argument(
        "--size",
        default=None,
        metavar="WxH",
        help="output size (default: the source's size, rounded down to even numbers)",
    )
    parser.add_argument(
        "--vcam-device",
        default=None,
        metavar="DEV",
        help="virtual camera device (e.g. /dev/video10; default: the first free one)",
    )
    parser.add_argument(
        "--vcam-backend",
        default=None,
        metavar="NAME",
        help="pyvirtualcam backend: v4l2loopback, obs or unitycapture (default: each in turn)",
    )
    parser.add_argument(
        "--events", type=Path, default=None, metavar="FILE", help="also write the JSON Lines events to FILE"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="stop after N processed frames"
    )


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``, even and positive, or one clear error."""
    w, sep, h = text.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        width = height = 0
    if not sep or width < 2 or height < 2 or width % 2 or height % 2 or max(width, height) > 7680:
        raise UserError(f"--size {text!r}: expected WxH with even numbers, e.g. 1280x720")
    return width, height


def check_arguments(args: argparse.Namespace) -> tuple[int, int] | None:
    if not 1.0 <= args.fps <= 120.0:
        raise UserError("--fps must be between 1 and 120")
    if args.max_frames is not None and args.max_frames < 1:
        raise UserError("--max-frames must be at least 1")
    if args.events is not None and not args.events.parent.is_dir():
        raise UserError(f"--events: folder {args.events.parent} does not exist")
    check_model_arguments(args)
    return None if args.size is None else parse_size(args.size)


def run(args: argparse.Namespace) -> int:
    from realtime.hub import FrameHub, HubSource
    from realtime.pipeline import Pipeline
    from realtime.sinks import JsonlSink, Sink
    from realtime.sources import open_source
    from realtime.vcam import VirtualCameraSink, open_camera, probe_camera

    size = check_arguments(args)
    source = open_source(args.source, paced=True)  # a bad --source fails here, before any slow work
    try:
        probe_camera(args.vcam_backend, args.vcam_device)  # no backend: fails here, before the model
        session = load_session(args)
    except BaseException:
        source.close()
        raise
    # The source starts playing only now, so a file is not half over by the time the model is loaded.
    hub = FrameHub(source).start()
    try:
        first = hub.first_frame()
        if size is None:
            height, width = first.image.shape[:2]
            size = (max(2, width - width % 2), max(2, height - height % 2))
        camera = open_camera(size[0], size[1], args.fps, backend=args.vcam_backend, device=args.vcam_device)
    except BaseException:
        hub.close()
        session.close()
        raise
    vcam = VirtualCameraSink(camera, hub, args.style, args.fps, session.meta.thresholds)
    sinks: list[Sink] = [vcam]
    if args.events is not None:
        sinks.append(JsonlSink(args.events))
    print(
        f"virtual camera: {camera.backend} {camera.device}, {size[0]}x{size[1]} at {args.fps:g} fps, "
        f"style {args.style}; source {hub.name}; {session.meta.model_version} on {session.provider}; "
        "Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    pipeline = Pipeline(HubSource(hub), session, sinks, max_frames=args.max_frames)
    try:
        stats = pipeline.run()
    finally:
        vcam.close()
        session.close()
    print(stats.summary(), file=sys.stderr)
    intervals = vcam.intervals_ms()
    if intervals.size:
        print(
            f"virtual camera: {vcam.sent} frames sent, {1000.0 / float(intervals.mean()):.1f} fps",
            file=sys.stderr,
        )
    for warning in hub.source.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if vcam.error is not None:
        raise UserError(f"the virtual camera stopped: {vcam.error}")
    return 0
