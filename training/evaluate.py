"""Evaluate a CallShield model on a manifest: video-level AUC/AP/EER, per source and per method.

Scores come from the RUNTIME (ONNX Runtime through ``realtime.video_score``), not from the
training code, so the numbers describe exactly what users run: the same face detector, tracker,
crop, window and calibration. The report logic is separate from scoring (:func:`summarise` takes
plain :class:`VideoScore` records), so it is tested on synthetic scores and reused by training.

Conventions that matter for honest numbers:

* a video where no usable face was found scores 0.5 (uncertain) and is listed under ``no_face``:
  dropping it would flatter the model on exactly the clips it cannot handle;
* an unreadable file is reported under ``skipped`` (one warning line each) and left out: the run
  never aborts on one bad file;
* a method's AUC is that method's fakes against ALL reals of the evaluated rows, so every
  method is measured against the same negatives.
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from realtime import atomic
from training.families import family_of
from training.manifest import ManifestRow
from training.metrics import binary_metrics, roc_auc, roc_curve, tpr_at_fpr

NO_FACE_SCORE = 0.5
REPORTED_FPRS = (0.01, 0.05)  # per family: the fakes caught when 1% or 5% of the reals may be flagged


@dataclass
class VideoScore:
    """One evaluated file. ``score`` None means no usable face (counted as :data:`NO_FACE_SCORE`).

    ``window_scores``: the calibrated p_fake of every scored window of every track (frame-level
    metrics); ``note``: anything worth telling about this file (e.g. scored as a 1-frame video).
    """

    row: ManifestRow
    score: float | None
    window_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    note: str = ""

    @property
    def effective_score(self) -> float:
        return NO_FACE_SCORE if self.score is None else float(self.score)


@dataclass
class Skipped:
    """A row that could not be scored, and why (one line)."""

    row: ManifestRow
    reason: str


Scorer = Callable[[ManifestRow], VideoScore]


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _group_auc(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    return {
        "video_auc": _finite_or_none(roc_auc(labels, scores)) if labels.size else None,
        "n": int(labels.size),
        "n_real": int((labels == 0).sum()),
        "n_fake": int((labels == 1).sum()),
    }


def summarise(
    scored: Sequence[VideoScore],
    threshold: float,
    skipped: Sequence[Skipped] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation report as a JSON-ready dict (undefined metrics are ``None``, with a note)."""
    labels = np.array([v.row.target for v in scored], np.int64)
    scores = np.array([v.effective_score for v in scored], np.float64)
    m = binary_metrics(labels, scores, threshold)

    by_source: dict[str, dict[str, Any]] = {}
    for source in sorted({v.row.source for v in scored}):
        mask = np.array([v.row.source == source for v in scored])
        entry = _group_auc(labels[mask], scores[mask])
        reals = scores[mask][labels[mask] == 0]
        entry["real_fpr_at_threshold"] = float(np.mean(reals >= threshold)) if reals.size else None
        by_source[source] = entry

    by_method: dict[str, dict[str, Any]] = {}
    real_mask = labels == 0
    for method in sorted({v.row.method for v in scored if v.row.is_fake}):
        fake_mask = np.array([v.row.is_fake and v.row.method == method for v in scored])
        mask = fake_mask | real_mask
        by_method[method] = _group_auc(labels[mask], scores[mask])

    # each family of fakes (training.families) against every real: what the project's targets are set on
    by_family: dict[str, dict[str, Any]] = {}
    families = [family_of(v.row) for v in scored]
    for family in sorted({f for f in families if f is not None}):
        fake_mask = np.array([f == family for f in families])
        entry = _group_auc(labels[fake_mask | real_mask], scores[fake_mask | real_mask])
        entry["caught_at_threshold"] = float(np.mean(scores[fake_mask] >= threshold))
        for fpr in REPORTED_FPRS:
            tpr = tpr_at_fpr(labels[fake_mask | real_mask], scores[fake_mask | real_mask], fpr)
            entry[f"tpr_at_fpr{fpr:g}"] = _finite_or_none(tpr)
        by_family[family] = entry

    window_labels = np.concatenate(
        [np.full(len(v.window_scores), v.row.target, np.int64) for v in scored] or [np.zeros(0, np.int64)]
    )
    window_scores = np.concatenate(
        [np.asarray(v.window_scores, np.float64).ravel() for v in scored] or [np.zeros(0)]
    )

    notes = [m.note] if m.note else []
    report: dict[str, Any] = {
        "n_videos": m.n,
        "n_real": m.n_real,
        "n_fake": m.n_fake,
        "threshold": float(threshold),
        "video_auc": _finite_or_none(m.auc),
        "video_ap": _finite_or_none(m.ap),
        "video_eer": _finite_or_none(m.eer),
        "video_eer_threshold": _finite_or_none(m.eer_threshold),
        "video_accuracy": _finite_or_none(m.accuracy),
        "fpr_at_tpr90": _finite_or_none(m.fpr_at_tpr90),
        "real_fpr_at_threshold": _finite_or_none(m.fpr_real_at_threshold),
        "fake_caught_at_threshold": float(np.mean(scores[labels == 1] >= threshold)) if m.n_fake else None,
        "frame_auc": _finite_or_none(roc_auc(window_labels, window_scores)) if window_scores.size else None,
        "n_windows": int(window_scores.size),
        "by_source": by_source,
        "by_method": by_method,
        "by_family": by_family,
        "no_face": [v.row.path for v in scored if v.score is None],
        # every scored file, so a user can see which videos were flagged, not only the aggregates
        "videos": [
            {
                "path": v.row.path,
                "source": v.row.source,
                "method": v.row.method,
                "label": v.row.label,
                "score": None if v.score is None else float(v.score),
                "flagged": v.effective_score >= threshold,
            }
            for v in scored
        ],
        "skipped": [{"path": s.row.path, "reason": s.reason} for s in skipped],
        "notes": notes + [f"{v.row.path}: {v.note}" for v in scored if v.note],
    }
    if extra:
        report.update(extra)
    return report


def score_rows(
    rows: Iterable[ManifestRow],
    scorer: Scorer,
    progress: bool = True,
    warn: Callable[[str], None] | None = None,
) -> tuple[list[VideoScore], list[Skipped]]:
    """Score every row; a row whose scorer raises is skipped with one warning line, never fatal.

    KeyboardInterrupt still stops the run (it is not an Exception).
    """
    from tqdm import tqdm

    rows = list(rows)
    warn = warn or (lambda line: tqdm.write(line, file=sys.stderr))
    scored: list[VideoScore] = []
    skipped: list[Skipped] = []
    bar = tqdm(rows, desc="evaluate", unit="video", disable=not progress, file=sys.stderr)
    for row in bar:
        try:
            scored.append(scorer(row))
        except Exception as exc:
            reason = _one_line(exc)
            skipped.append(Skipped(row, reason))
            warn(f"warning: skipped {row.path}: {reason}")
    return scored, skipped


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _fmt(value: float | None, digits: int = 3) -> str:
    return "  n/a" if value is None else f"{value:.{digits}f}"


def format_table(report: dict[str, Any]) -> str:
    """A human-readable summary for stdout."""
    lines = [
        f"videos {report['n_videos']} (real {report['n_real']}, fake {report['n_fake']}), "
        f"threshold {report['threshold']:.2f}",
        f"  video AUC {_fmt(report['video_auc'])}   AP {_fmt(report['video_ap'])}   "
        f"EER {_fmt(report['video_eer'])}   accuracy {_fmt(report['video_accuracy'])}",
        f"  FPR@TPR0.9 {_fmt(report['fpr_at_tpr90'])}   real FPR at threshold "
        f"{_fmt(report['real_fpr_at_threshold'])}   frame AUC {_fmt(report['frame_auc'])} "
        f"({report['n_windows']} windows)",
    ]
    if report.get("fake_caught_at_threshold") is not None:
        lines.append(f"  fakes flagged at threshold {_fmt(report['fake_caught_at_threshold'])}")
    families = report["by_family"]
    if families:
        width = max(len("family"), *(len(name) for name in families))
        lines.append(f"  {'family':<{width}}  flagged  TPR@1%FPR  TPR@5%FPR")
        for name, g in families.items():
            lines.append(
                f"  {name:<{width}}    {_fmt(g['caught_at_threshold'], 2)}       "
                f"{_fmt(g.get('tpr_at_fpr0.01'), 2)}       {_fmt(g.get('tpr_at_fpr0.05'), 2)}"
            )
    for title, key in (("family", "by_family"), ("source", "by_source"), ("method", "by_method")):
        groups = report[key]
        if not groups:
            continue
        width = max(len(title), *(len(name) for name in groups))
        lines.append(f"  {title:<{width}}   AUC     n  real  fake")
        for name, g in groups.items():
            lines.append(
                f"  {name:<{width}}  {_fmt(g['video_auc'])} {g['n']:5d} {g['n_real']:5d} {g['n_fake']:5d}"
            )
    if report["no_face"]:
        lines.append(f"  no usable face (scored {NO_FACE_SCORE}): {len(report['no_face'])}")
        lines.extend(f"    {p}" for p in report["no_face"])
    if report["skipped"]:
        lines.append(f"  skipped (unreadable): {len(report['skipped'])}")
        lines.extend(f"    {s['path']}: {s['reason']}" for s in report["skipped"])
    for note in report["notes"]:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def write_json_atomic(data: dict[str, Any], path: str | Path) -> Path:
    """JSON (strict: no NaN) via temp file + rename, so a crash never leaves half a report."""
    return atomic.write_json_atomic(data, path, allow_nan=False)


def plot_roc(
    scored: Sequence[VideoScore], path: str | Path, title: str = "CallShield video-level ROC"
) -> Path:
    """ROC curves (all rows, and each source that has both classes) to a PNG, atomically.

    A source with only reals (or only fakes) has no ROC of its own; it is plotted against the other
    class of the whole set instead, labelled so, because that is how such sources are judged.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = np.array([v.row.target for v in scored], np.int64)
    scores = np.array([v.effective_score for v in scored], np.float64)
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    try:
        ax.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
        curves = [("all", np.ones(len(scored), bool), "")]
        for source in sorted({v.row.source for v in scored}):
            mask = np.array([v.row.source == source for v in scored])
            if len(set(labels[mask].tolist())) == 2:
                curves.append((source, mask, ""))
            elif labels[mask].size:
                other = labels != labels[mask][0]
                if other.any():
                    curves.append((source, mask | other, " vs other-class rows"))
        for name, mask, suffix in curves:
            y, s = labels[mask], scores[mask]
            if len(set(y.tolist())) < 2:
                continue
            curve = roc_curve(y, s)
            auc = roc_auc(y, s)
            width = 2.2 if name == "all" else 1.2
            ax.plot(
                curve.fpr, curve.tpr, linewidth=width, label=f"{name}{suffix} (AUC {auc:.3f}, n={y.size})"
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("false positive rate (real called fake)")
        ax.set_ylabel("true positive rate (fake caught)")
        ax.set_title(title)
        ax.legend(loc="lower right", fontsize=7)
        ax.grid(alpha=0.3)
        path = Path(path)
        with atomic.atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------
# Scoring with the runtime
# --------------------------------------------------------------------------------------------


def window_scores_of(result: Any) -> np.ndarray:
    """The p_fake of every good window of every scored track of a ``VideoResult``: the frame-level
    scores behind the video score (``TrackResult.window_scores``; the timelines repeat a window's
    value on the frames between head runs and include low-quality windows, so they are not used)."""
    values = [
        float(v) for track in getattr(result, "tracks", []) for v in getattr(track, "window_scores", [])
    ]
    return np.asarray(values, np.float64)


def runtime_scorer(session: Any, max_frames: int | None = None, call_codec: Any = None) -> Scorer:
    """A :data:`Scorer` that runs ``realtime.video_score.score_video`` on each row's file.

    ``call_codec``: a ``training.degrade.CallDegradation`` to pass each video through first
    (see :func:`degraded_copy`), or None to score the file as it is.
    """
    from realtime.video_score import score_video

    def score(row: ManifestRow) -> VideoScore:
        if call_codec is None:
            result = score_video(row.abspath, session, max_frames=max_frames)
        else:
            with tempfile.TemporaryDirectory(prefix="callshield-eval-") as tmp:
                clip = degraded_copy(row.abspath, Path(tmp) / "call.mkv", call_codec, max_frames)
                result = score_video(clip, session, max_frames=max_frames)
        notes = []
        if result.score is None and result.note:
            notes.append(result.note)
        notes.extend(result.warnings)
        return VideoScore(
            row=row,
            score=None if result.score is None else float(result.score),
            window_scores=window_scores_of(result),
            note="; ".join(notes),
        )

    return score


DEGRADE_CHUNK = 150  # frames decoded, degraded and re-encoded at a time (bounded memory on 1080p)


def degraded_copy(src: Path, dst: Path, params: Any, max_frames: int | None = None) -> Path:
    """Write ``src`` as a video call would deliver it (``training.degrade.degrade_clip``) to ``dst``.

    The degraded frames are stored losslessly (FFV1) so the only loss measured is the call's.
    Chunks of :data:`DEGRADE_CHUNK` frames keep memory bounded on long 1080p clips; each chunk
    starts the call codec afresh (one extra keyframe per 5 s at 30 fps, as a call's periodic
    keyframes do). ``dst`` is a temporary file the caller deletes: frames never outlive scoring.
    """
    import av

    from realtime.sources import VideoFileSource
    from training.degrade import degrade_clip

    source = VideoFileSource(src, paced=False)
    fps = source.fps
    with source, av.open(str(dst), "w") as out:
        stream: Any = None
        chunk: list[np.ndarray] = []

        def flush() -> None:
            nonlocal stream
            if not chunk:
                return
            frames = degrade_clip(chunk, fps, params)
            if stream is None:
                h, w = frames[0].shape[:2]
                stream = out.add_stream("ffv1", rate=max(1, round(fps)))
                stream.width, stream.height, stream.pix_fmt = w, h, "bgr0"
            for frame in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            chunk.clear()

        for n, (image, _t) in enumerate(source):
            if max_frames is not None and n >= max_frames:
                break
            if chunk and image.shape != chunk[0].shape:
                flush()
            chunk.append(image)
            if len(chunk) >= DEGRADE_CHUNK:
                flush()
        flush()
        if stream is None:
            raise ValueError(f"{src}: no frames to degrade")
        out.mux(stream.encode())
    return dst
