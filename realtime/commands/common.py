"""The model options of the verbs that run a detector (scan, monitor, demo, bench), defined once.

Every such verb loads the same :class:`realtime.session.DetectorSession` from the same options, so
their flags, defaults, checks and help are written here and nowhere else. Kept import-light (the CLI
imports every verb module to build its parser): the session is imported inside
:func:`load_session`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from realtime.errors import UserError

if TYPE_CHECKING:
    from realtime.session import DetectorSession

# engines.base.DEVICES, repeated so that building the parser does not import engines (numpy, cv2).
DEVICES = ("cpu", "cuda", "tensorrt")


def add_model_arguments(
    parser: argparse.ArgumentParser, *, device: bool = True, tiles_flag: str | None = "--tiles"
) -> None:
    """``--model``, and unless turned off ``--device`` and the tiled-detection option.

    ``tiles_flag`` names the tiled-detection option (bench keeps its documented ``--detect-tiles``);
    whatever its name, it lands in ``args.tiles``.
    """
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="FILE",
        help="a CallShield model file, e.g. .onnx (default: the shipped one)",
    )
    if device:
        parser.add_argument(
            "--device", default="cpu", choices=DEVICES, help="where to run the model (default: cpu)"
        )
    if tiles_flag is not None:
        parser.add_argument(
            tiles_flag,
            dest="tiles",
            type=int,
            default=1,
            metavar="N",
            help="also search an N x N grid of tiles for small faces (call gallery views; "
            "N*N extra detector passes; default 1: whole frame only)",
        )
        parser.set_defaults(tiles_flag=tiles_flag)
        parser.add_argument(
            "--detect-every",
            type=int,
            default=1,
            metavar="K",
            help="run face detection on every K-th frame only; faces coast on their tracked "
            "keypoints in between (saves time with --tiles; default 1: every frame)",
        )


def check_model_arguments(args: argparse.Namespace) -> None:
    """Reject what argparse lets through (a 0 x 0 tile grid), naming the flag the user typed.

    :func:`load_session` checks too; verbs call this first to fail before any slow work.
    """
    if getattr(args, "tiles", 1) < 1:
        raise UserError(f"{args.tiles_flag} must be at least 1")
    if getattr(args, "detect_every", 1) < 1:
        raise UserError("--detect-every must be at least 1")


def load_session(args: argparse.Namespace) -> DetectorSession:
    """The detector session the options ask for; options a verb does not define take their defaults."""
    from realtime.session import DetectorSession

    check_model_arguments(args)
    return DetectorSession.load(
        model_path=args.model,
        backend=getattr(args, "backend", "auto"),
        device=getattr(args, "device", "cpu"),
        detect_tiles=getattr(args, "tiles", 1),
        detect_every=getattr(args, "detect_every", 1),
    )
