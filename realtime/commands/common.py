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
# realtime.session.AUTO_TILES, repeated for the same reason.
AUTO_TILES = "auto"


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
            type=tiles_value,
            default=AUTO_TILES,
            metavar="auto|N",
            help="where to search for faces. auto (default): the whole frame while faces are big "
            "(one face costs what it always did); in a call gallery, one detector pass around the "
            "tracked faces plus one to discover new faces every 4th frame (all 9 of a 3x3 gallery "
            "at ~1.3 passes a frame). N: the whole frame and an N x N grid of tiles on every frame "
            "(1 + N*N passes; 1: the whole frame only, which misses small gallery faces)",
        )
        parser.set_defaults(tiles_flag=tiles_flag)
        parser.add_argument(
            "--detect-every",
            type=int,
            default=1,
            metavar="K",
            help="run face detection on every K-th frame only; faces coast on their tracked "
            "keypoints in between (less work on average, but detection frames stay as slow; "
            "default 1: every frame)",
        )


def tiles_value(text: str) -> int | str:
    """``auto`` or an integer; the range is checked by :func:`check_model_arguments`."""
    if text.strip().lower() == AUTO_TILES:
        return AUTO_TILES
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None


def check_model_arguments(args: argparse.Namespace) -> None:
    """Reject what argparse lets through (a 0 x 0 tile grid), naming the flag the user typed.

    :func:`load_session` checks too; verbs call this first to fail before any slow work.
    """
    tiles = getattr(args, "tiles", AUTO_TILES)
    if isinstance(tiles, int) and tiles < 1:
        raise UserError(f"{args.tiles_flag} must be auto or at least 1")
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
        detect_tiles=getattr(args, "tiles", AUTO_TILES),
        detect_every=getattr(args, "detect_every", 1),
    )
