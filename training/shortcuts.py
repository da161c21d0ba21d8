"""Shortcut probes: does the model score *how a video looks* rather than whether its face is fake?

The data invites shortcuts. Several swap fakes were GIFs (palette dithering, 7 to 10 fps) and the
Deep-Live-Cam fakes are small videos; many fakes animate paintings and artworks; most live-swap
fakes wear a celebrity's face. A model can separate the training set by any of these and still
know nothing about manipulation. Each probe takes *real* videos, gives them one of those looks
(the same conversion the fakes went through), and scores them again with the runtime: if the
scores of unchanged real faces rise, the model reads the look.

=============  ============================================================================
probe          what is done to each real video
=============  ============================================================================
``gif``        256-colour palette with Floyd-Steinberg dithering at 10 fps (how the GIF and
               animated-WebP demos were made)
``fps10``      every third frame kept: 10 fps
``small``      downscaled to 320 px wide, as small as the Deep-Live-Cam webcam fakes
``painting``   OpenCV's edge-preserving stylisation: the flat, painted look of artwork portraits
``c40``        H.264 at CRF 40: heavy compression, as FaceForensics++ c40
=============  ============================================================================

``python -m training.shortcuts MODEL.onnx [--manifest M] [--split val] [--json OUT]`` prints, per
probe, the mean score of the real videos as they are and as converted, and how many of them the
model's fake threshold flags each way. The celebrity look needs no conversion: ``callshield
evaluate`` lists LFW's public figures (real photos) per source beside ordinary webcam faces.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime.atomic import write_json_atomic
from realtime.encode import write_h264
from realtime.errors import UserError
from training.manifest import ManifestRow, filter_rows, read_manifest

FrameFn = Callable[[np.ndarray], np.ndarray]
MAX_FRAMES = 150  # frames read from each video (5 s at 30 fps): enough windows for a score


def dither_gif(frame: np.ndarray) -> np.ndarray:
    """A 256-colour adaptive palette with Floyd-Steinberg error diffusion, as GIF encoders make."""
    from PIL import Image

    image = Image.fromarray(frame).convert("RGB")
    quantised = image.quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
    )
    return np.asarray(quantised.convert("RGB"))


def shrink(frame: np.ndarray, width: int = 320) -> np.ndarray:
    """Downscaled to ``width`` px (never upscaled), even sides for the encoder."""
    h, w = frame.shape[:2]
    if w <= width:
        return frame
    new_h = max(2, round(h * width / w) // 2 * 2)
    return cv2.resize(frame, (width, new_h), interpolation=cv2.INTER_AREA)


def paint(frame: np.ndarray) -> np.ndarray:
    """OpenCV's stylisation: flattened colour regions with kept edges, like a painted portrait."""
    return np.ascontiguousarray(cv2.stylization(frame, sigma_s=40, sigma_r=0.35))


# name -> (per-frame function, keep every k-th frame, x264 CRF of the written copy)
PROBES: dict[str, tuple[FrameFn | None, int, int]] = {
    "gif": (dither_gif, 3, 12),
    "fps10": (None, 3, 12),
    "small": (shrink, 1, 18),
    "painting": (paint, 1, 12),
    "c40": (None, 1, 40),
}


def converted_copy(src: Path, dst: Path, frame_fn: FrameFn | None, keep_every: int, crf: int) -> Path:
    """Write ``src``'s first frames, converted, to ``dst`` (H.264, near-lossless unless ``crf`` is high).

    Frames are written at the source's rate divided by ``keep_every``, so a 10 fps probe lasts as long
    as the original. The copy is a temp file of the caller's; nothing is kept."""
    import av

    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        fps = Fraction(stream.average_rate or 25).limit_denominator(1000) / keep_every
        frames = []
        for i, frame in enumerate(container.decode(stream)):
            if i >= MAX_FRAMES:
                break
            if i % keep_every:
                continue
            rgb = frame.to_ndarray(format="rgb24")
            frames.append(frame_fn(rgb) if frame_fn is not None else rgb)
    if not frames:
        raise UserError(f"{src}: no frames to convert")
    return write_h264(dst, frames, fps=fps, crf=crf)


def run_probes(
    rows: Sequence[ManifestRow], session: Any, probes: Sequence[str], threshold: float
) -> dict[str, Any]:
    """Score every row as it is and through each probe; per-probe means and flagged counts."""
    from tqdm import tqdm

    from realtime.video_score import score_video

    def score(path: Path) -> float | None:
        return score_video(path, session, max_frames=MAX_FRAMES).score

    per_video: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="callshield-probe-") as tmp:
        for row in tqdm(rows, desc="shortcut probes", unit="video"):
            entry: dict[str, Any] = {"path": row.path, "original": score(Path(row.abspath))}
            for name in probes:
                frame_fn, keep_every, crf = PROBES[name]
                copy = converted_copy(Path(row.abspath), Path(tmp) / f"{name}.mp4", frame_fn, keep_every, crf)
                entry[name] = score(copy)
            per_video.append(entry)
    summary: dict[str, Any] = {}
    for name in ("original", *probes):
        pairs = [
            (v["original"], v[name]) for v in per_video if v["original"] is not None and v[name] is not None
        ]
        if not pairs:
            continue
        before, after = np.array(pairs).T
        summary[name] = {
            "videos": len(pairs),
            "mean_before": float(before.mean()),
            "mean_after": float(after.mean()),
            "mean_change": float((after - before).mean()),
            "flagged_before": int((before >= threshold).sum()),
            "flagged_after": int((after >= threshold).sum()),
        }
    return {"threshold": threshold, "summary": summary, "videos": per_video}


def format_summary(report: dict[str, Any]) -> str:
    lines = [
        f"{'probe':<10} {'videos':>6} {'mean as is':>11} {'converted':>10} {'change':>8} {'flagged':>12}"
    ]
    for name, s in report["summary"].items():
        lines.append(
            f"{name:<10} {s['videos']:>6} {s['mean_before']:>11.3f} {s['mean_after']:>10.3f} "
            f"{s['mean_change']:>+8.3f} {s['flagged_before']:>5} -> {s['flagged_after']:<4}"
        )
    lines.append(
        f"(real videos only; flagged: score >= the model's fake threshold {report['threshold']:.2f})"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.shortcuts", description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--manifest", type=Path, default=Path("../shared/data/manifest.csv"))
    parser.add_argument("--split", default="val")
    parser.add_argument("--probes", default=",".join(PROBES), help=f"comma-separated, of {', '.join(PROBES)}")
    parser.add_argument("--limit", type=int, default=0, help="at most this many real videos (0: all)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        probes = [p for p in args.probes.split(",") if p]
        unknown = [p for p in probes if p not in PROBES]
        if unknown:
            raise UserError(f"unknown probe(s) {', '.join(unknown)}; known: {', '.join(PROBES)}")
        if not args.manifest.is_file():
            raise UserError(f"manifest not found: {args.manifest}")
        from realtime.session import DetectorSession

        rows = filter_rows(read_manifest(args.manifest), split=args.split, kind="video", label="real")
        if args.limit:
            rows = rows[: args.limit]
        if not rows:
            raise UserError(f"no real videos in split {args.split!r} of {args.manifest}")
        with DetectorSession.load(args.model) as session:
            report = run_probes(rows, session, probes, session.meta.thresholds.fake)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(report))
    if args.json is not None:
        write_json_atomic(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
