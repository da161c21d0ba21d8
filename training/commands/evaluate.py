"""``callshield evaluate MANIFEST.csv``: AUC/AP/EER of a model on a manifest, scored by the runtime.

Runs on ONNX Runtime (no torch), so users can measure the shipped model on their own footage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from realtime.errors import InputError, UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "manifest", type=Path, help="manifest CSV (path,kind,label,source,identity,method,pair_id,split)"
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="CallShield ONNX model (default: the shipped one)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the report as JSON here")
    parser.add_argument("--max-frames", type=int, default=None, help="score at most N frames per video")
    parser.add_argument(
        "--split", default=None, help="evaluate only rows of this split (e.g. val; several: val,test)"
    )
    parser.add_argument("--source", default=None, help="evaluate only rows of this source (several: a,b)")
    parser.add_argument(
        "--plot", type=Path, default=None, help="write an ROC plot (PNG) with per-source curves"
    )
    parser.add_argument(
        "--call-codec",
        action="store_true",
        help="pass each video through a typical call's codec first (H.264, 500 kbps, 360p); the "
        "degraded clip is held in a temporary file, deleted after scoring",
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N selected rows")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from engines.artifact import ModelFileError
    from training.evaluate import format_table, plot_roc, score_rows, summarise, write_json_atomic
    from training.manifest import filter_rows, read_manifest

    if args.max_frames is not None and args.max_frames < 1:
        raise UserError(f"--max-frames must be >= 1, got {args.max_frames}")
    for out, suffix in ((args.json, ".json"), (args.plot, ".png")):
        if out is not None and out.suffix.lower() != suffix:
            raise UserError(f"{out}: expected a {suffix} file name")
    rows = read_manifest(args.manifest)
    selected = filter_rows(rows, split=_names(args.split), source=_names(args.source))
    if args.limit is not None:
        selected = selected[: max(0, args.limit)]
    if not selected:
        what = ", ".join(f"{k}={v}" for k, v in (("split", args.split), ("source", args.source)) if v)
        raise InputError(f"{args.manifest}: no rows to evaluate" + (f" ({what})" if what else ""))

    videos = [r for r in selected if r.kind == "video"]
    images = len(selected) - len(videos)
    notes = []
    if images:
        notes.append(
            f"{images} image row(s) not scored: the runtime scores windows of consecutive frames of a "
            "tracked face, and a still image gives none"
        )
    if not videos:
        raise InputError(f"{args.manifest}: no video rows to evaluate ({images} image rows; see --help)")

    try:
        session, meta, scorer = _load_runtime(args.model, args.max_frames, args.call_codec)
    except ModelFileError as exc:
        raise UserError(str(exc)) from None

    try:
        scored, skipped = score_rows(videos, scorer, progress=not args.no_progress)
    finally:
        session.close()
    if not scored:
        raise InputError(f"none of the {len(videos)} selected videos could be scored (see warnings above)")
    threshold = float(meta.thresholds.fake)
    report = summarise(
        scored,
        threshold,
        skipped,
        extra={
            "model": str(args.model) if args.model else "shipped",
            "model_version": meta.model_version,
            "manifest": str(args.manifest),
            "split": args.split,
            "source": args.source,
            "max_frames": args.max_frames,
            "call_codec": _codec_label(args.call_codec),
            "images_not_scored": images,
        },
    )
    report["notes"] = notes + report["notes"]
    print(format_table(report))
    if args.json:
        write_json_atomic(report, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        plot_roc(scored, args.plot, title=f"CallShield {meta.model_version}: video-level ROC")
        print(f"wrote {args.plot}")
    if skipped:
        print(f"{len(skipped)} row(s) skipped as unreadable", file=sys.stderr)
    return 0


def _names(value: str | None) -> list[str] | None:
    """'a,b' -> ['a', 'b'] (None stays None: no filter)."""
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _codec_label(enabled: bool) -> str | None:
    if not enabled:
        return None
    from training.degrade import CODEC_CHAIN_DEFAULT as c

    return f"{c.codec} {c.bitrate_kbps} kbps {c.height}p ({c.x264_preset})"


def _load_runtime(model: Path | None, max_frames: int | None, call_codec: bool) -> tuple[Any, Any, Any]:
    """The runtime's detector session, its model metadata, and a scorer over manifest rows."""
    from realtime.session import DetectorSession
    from training.evaluate import runtime_scorer

    params = None
    if call_codec:
        from training.degrade import CODEC_CHAIN_DEFAULT

        params = CODEC_CHAIN_DEFAULT
    session = DetectorSession.load(model_path=model)
    return session, session.meta, runtime_scorer(session, max_frames, params)
