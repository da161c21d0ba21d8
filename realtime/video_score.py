"""Score a whole video file: per-track scores and timelines, one video score, one verdict.

This is the function ``callshield scan`` and training's ``evaluate`` both call, so a model is
evaluated exactly the way it runs live: the same :class:`~realtime.session.DetectorSession`, frame by
frame, with the same tracking, crops, quality gating and windows. Keep its signature stable:
``score_video(path, session, max_frames=None, progress=False) -> VideoResult``.

* Tracks that never filled a window are dropped from the result (never judged).
* A **track's score** is the mean p_fake over its *good* windows: scored windows whose face passed
  the quality checks (``reason != "low_quality"``). A track with fewer than
  :func:`min_good_windows` good windows (a face glimpsed for a moment, a false detection) is
  ignored (score None).
* The **video score** is the most suspicious track's score: one swapped face among honest ones
  makes the video fake.
* The **verdict** is ``fake`` at or above ``meta.thresholds.fake``, ``real`` at or below
  ``meta.thresholds.real``, else ``uncertain``; also ``uncertain`` when no track has a score
  (no face, or only faces too poor to judge): ``note`` says which.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engines.artifact import ModelMeta, Thresholds
from realtime.sources import VideoFileSource


@dataclass
class TrackResult:
    """One face followed through the video.

    ``timeline``: one ``{"t", "p_fake", "risk", "state"}`` dict per frame the face was seen;
    ``window_scores``: p_fake of each good window (what ``score`` averages); ``n_windows``: all
    windows scored, good or not.
    """

    id: int
    score: float | None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    window_scores: list[float] = field(default_factory=list)
    n_frames: int = 0
    n_windows: int = 0
    first_t: float = 0.0
    last_t: float = 0.0


@dataclass
class VideoResult:
    """The outcome for one video file; ``to_dict()`` is what ``scan`` writes as JSON."""

    path: str
    n_frames: int
    score: float | None
    verdict: str
    tracks: list[TrackResult] = field(default_factory=list)
    faces_found: int = 0  # tracks ever started, glimpses included: 0 means no face at all
    note: str = ""
    complete: bool = True
    warnings: list[str] = field(default_factory=list)
    model_version: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        """Indented JSON with one timeline point per line (an hour of video stays readable)."""
        data = self.to_dict()
        marker = f"@@{uuid.uuid4().hex}"
        packed: list[str] = []
        for track in data["tracks"]:
            for i, point in enumerate(track["timeline"]):
                track["timeline"][i] = f"{marker}{len(packed)}"
                packed.append(json.dumps(point))
        text = json.dumps(data, indent=2)
        return re.sub(f'"{marker}(\\d+)"', lambda m: packed[int(m.group(1))], text) + "\n"

    def summary(self) -> str:
        """One line for a terminal: ``clip.mp4: fake (score 0.91, 2 faces, 300 frames)``."""
        name = Path(self.path).name
        scored = sum(1 for tr in self.tracks if tr.score is not None)
        faces = f"{scored} face{'s' if scored != 1 else ''} scored"
        score = "no score" if self.score is None else f"score {self.score:.2f}"
        note = f"; {self.note}" if self.note else ""
        return f"{name}: {self.verdict} ({score}, {faces}, {self.n_frames} frames{note})"


def min_good_windows(meta: ModelMeta) -> int:
    """Good windows a track needs before it counts: ~half a window of extra frames, at least 5."""
    return max(5, meta.window // 2)


def verdict_for(score: float | None, thresholds: Thresholds) -> str:
    if score is None:
        return "uncertain"
    if score >= thresholds.fake:
        return "fake"
    if score <= thresholds.real:
        return "real"
    return "uncertain"


def score_video(
    path: str | Path, session: Any, max_frames: int | None = None, progress: bool = False
) -> VideoResult:
    """Run ``session`` (a :class:`~realtime.session.DetectorSession`) over every frame of ``path``.

    Raises :class:`~realtime.errors.InputError` for a file that is not a readable video. A file
    damaged part-way is scored up to the damage (``complete`` False, ``warnings`` say why).
    ``progress``: a tqdm bar on stderr.
    """
    meta: ModelMeta = session.meta
    session.reset()
    tracks: dict[int, TrackResult] = {}
    n_frames = 0
    with VideoFileSource(path, paced=False) as source:
        total = source.expected_frames or None
        if max_frames is not None and total is not None:
            total = min(total, max_frames)
        bar = _progress_bar(total, Path(path).name) if progress else None
        try:
            for image, t in source:
                if max_frames is not None and n_frames >= max_frames:
                    break
                for event in session.process(image, t):
                    track = tracks.get(event.track_id)
                    if track is None:
                        track = tracks[event.track_id] = TrackResult(id=event.track_id, score=None, first_t=t)
                    track.timeline.append(
                        {
                            "t": round(t, 4),
                            "p_fake": _r4(event.p_fake),
                            "risk": _r4(event.risk),
                            "state": event.state,
                        }
                    )
                    track.n_frames += 1
                    track.last_t = t
                    if event.scored:
                        track.n_windows += 1
                    if event.scored and event.reason != "low_quality" and event.p_fake is not None:
                        track.window_scores.append(float(event.p_fake))
                n_frames += 1
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        warnings = list(source.warnings)

    needed = min_good_windows(meta)
    # A track that never filled a window was never judged (a glimpse or a false detection): drop it.
    glimpses = [tid for tid, tr in tracks.items() if tr.n_windows == 0]
    for tid in glimpses:
        del tracks[tid]
    for track in tracks.values():
        if len(track.window_scores) >= needed:
            track.score = sum(track.window_scores) / len(track.window_scores)
    scores = [tr.score for tr in tracks.values() if tr.score is not None]
    score = max(scores) if scores else None
    verdict = verdict_for(score, meta.thresholds)
    if not tracks:
        note = "no face held in view for a full window" if glimpses else "no face found"
    elif score is None:
        note = f"no face seen well enough for {needed} windows (too small, blurred, dark or brief)"
    elif verdict == "uncertain":
        note = "score between the real and fake thresholds"
    else:
        note = ""
    return VideoResult(
        path=str(path),
        n_frames=n_frames,
        score=score,
        verdict=verdict,
        tracks=sorted(tracks.values(), key=lambda tr: tr.id),
        faces_found=len(tracks) + len(glimpses),
        note=note,
        complete=not warnings,
        warnings=warnings,
        model_version=meta.model_version,
        thresholds=asdict(meta.thresholds),
    )


def _r4(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _progress_bar(total: int | None, name: str) -> Any:
    from tqdm import tqdm

    # delay: only videos that take more than 2 s get a bar; disable=None: only on a terminal, so
    # logs and pipes never fill with carriage-return redraws.
    return tqdm(
        total=total,
        desc=name,
        unit="frame",
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        delay=2.0,
        disable=None,
    )
