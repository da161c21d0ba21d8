"""Risk-over-time plots: one line per face, the decision bands shaded, written as a PNG.

A single number hides *when* a video looked fake; the plot shows whether risk rose for one face at
one moment (a swap switched on mid-call) or sat high all along. Matplotlib's Agg backend only: no
display is needed, and the GUI toolkit is never touched.
"""

from __future__ import annotations

from pathlib import Path

from engines.artifact import Thresholds
from realtime.atomic import atomic_path
from realtime.video_score import VideoResult

BAND_COLOURS = {"real": "#d8f0d8", "uncertain": "#f2f2f2", "suspicious": "#fdebc8", "fake": "#f8d0d0"}


def plot_risk(result: VideoResult, path: str | Path, thresholds: Thresholds | None = None) -> Path:
    """Write ``path`` (PNG) atomically: a temp file in the same folder, then a rename."""
    from matplotlib.figure import Figure  # not pyplot: no global backend, no GUI toolkit

    th = thresholds or (Thresholds(**result.thresholds) if result.thresholds else Thresholds())
    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.axhspan(0.0, th.real, color=BAND_COLOURS["real"], zorder=0, label="real")
    ax.axhspan(th.real, th.suspicious, color=BAND_COLOURS["uncertain"], zorder=0)
    ax.axhspan(th.suspicious, th.fake, color=BAND_COLOURS["suspicious"], zorder=0, label="suspicious")
    ax.axhspan(th.fake, 1.0, color=BAND_COLOURS["fake"], zorder=0, label="fake")
    plotted = 0
    for track in result.tracks:
        points = [(p["t"], p["risk"]) for p in track.timeline if p["risk"] is not None]
        if not points:
            continue
        times, risks = zip(*points, strict=True)
        label = f"face {track.id}" + ("" if track.score is None else f" (score {track.score:.2f})")
        ax.plot(times, risks, linewidth=1.6, label=label, zorder=2)
        plotted += 1
    if not plotted:
        ax.text(0.5, 0.5, "no face scored", ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("risk (smoothed p_fake)")
    score = "no score" if result.score is None else f"{result.score:.2f}"
    ax.set_title(f"{Path(result.path).name}: {result.verdict} ({score})", fontsize=10)
    ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.8)
    fig.tight_layout()

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)
