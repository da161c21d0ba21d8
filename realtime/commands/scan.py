"""``callshield scan PATH``: score video files, one summary line each, JSON + plot per video.

A folder is scanned file by file: a file that cannot be read is reported (one ``error:`` line) and
the scan goes on; the exit status is non-zero at the end if any file failed. Result files are
written atomically and only for videos that were scored, so ``--out`` never holds half a result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime.commands.common import add_model_arguments, check_model_arguments, load_session
from realtime.errors import InputError, UserError
from realtime.sources import VIDEO_SUFFIXES, check_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="a video file, or a folder of videos (not recursive)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/<name>.json (verdict, score, per-face timelines) and DIR/<name>.png",
    )
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="score at most N frames per video"
    )
    add_model_arguments(parser)


def find_videos(path: Path) -> list[Path]:
    """The videos to scan: ``path`` itself, or the video files directly inside a folder, by name."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not videos:
            raise InputError(f"{path} contains no video files ({', '.join(VIDEO_SUFFIXES)})")
        return videos
    check_file(path)
    return [path]


def output_names(videos: list[Path]) -> dict[Path, str]:
    """``<stem>`` per video, or ``<name>`` where two videos share a stem (a.mp4 and a.mov)."""
    stems = [v.stem for v in videos]
    return {v: (v.stem if stems.count(v.stem) == 1 else v.name) for v in videos}


def run(args: argparse.Namespace) -> int:
    from realtime.atomic import write_text_atomic
    from realtime.plots import plot_risk
    from realtime.video_score import score_video

    if args.max_frames is not None and args.max_frames < 1:
        raise UserError("--max-frames must be at least 1")
    check_model_arguments(args)
    videos = find_videos(args.path)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} exists and is not a folder")
    session = load_session(args)
    names = output_names(videos)
    failed = 0
    for video in videos:
        try:
            result = score_video(video, session, max_frames=args.max_frames, progress=True)
        except InputError as exc:
            if len(videos) == 1:
                raise
            print(f"error: {exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        if not result.tracks:
            # nothing to judge: an error, not a verdict (a scan of a faceless file is a wrong input).
            # A glimpse (a face for a frame or two, often a false detection in noise) is not a face.
            seen = "" if result.faces_found == 0 else " (only glimpses, none held for a full window)"
            message = f"{video.name}: no face found in {result.n_frames} frames{seen}"
            if len(videos) == 1:
                raise InputError(message)
            print(f"error: {message}", file=sys.stderr, flush=True)
            failed += 1
            continue
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        if args.out is not None:
            write_text_atomic(result.to_json(), args.out / f"{names[video]}.json")
            plot_risk(result, args.out / f"{names[video]}.png", session.meta.thresholds)
        print(result.summary(), flush=True)
    session.close()
    if failed:
        print(f"scan: {failed} of {len(videos)} videos could not be scanned", file=sys.stderr)
        return 1
    return 0
