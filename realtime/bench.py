"""Benchmark of the live pipeline: per-stage latency, throughput and memory on this machine.

What is measured is the real path of a frame (:class:`realtime.session.DetectorSession`: MediaPipe
detection, tracking, alignment + quality, ONE encoder call for all faces, ONE head call for due
windows, risk), timed by the session's own per-stage hooks (``last_times``). Source clips are
decoded before timing starts, so ``fps`` is the pipeline's capacity, not the decoder's; decoding
(and composing the gallery view) is timed separately as the ``decode`` stage.

Views: ``faces=1`` is one talking head (carphone, upscaled to 640x480 like a webcam); ``faces=4``
and ``faces=9`` are a call's grid view at 1280x720 (2x2 / 3x3 tiles) built from real clips:
carphone plus, when ``../shared/data/real`` exists, a few real clips from it; otherwise shifted and
mirrored copies of carphone. Frames are held in memory only, never written anywhere.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime.errors import InputError
from realtime.sample_clip import sample_clip_path

STAGES = ("decode", "detect", "align", "encode", "head", "risk")
GALLERY_SIZE = (1280, 720)
SINGLE_SIZE = (640, 480)
MAX_REAL_CLIPS = 3  # "a few": keeps decoded frames (held in memory during the run) small
SHARED_REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
TARGETS = {
    1: {"fps": 60.0, "e2e_p99_ms": 25.0},
    4: {"fps": 25.0},
    9: {"fps": 25.0},
}
RSS_TARGET_MB = 1024.0


def shared_real_clips(limit: int = MAX_REAL_CLIPS, root: Path = SHARED_REAL) -> list[Path]:
    """A few real talking-head videos from the shared data, if it is there (GRID first: call-like)."""
    if not root.is_dir():
        return []
    clips: list[Path] = []
    for sub in ("grid", "liveportrait"):
        folder = root / sub
        if folder.is_dir():
            clips += sorted(p for p in folder.iterdir() if p.suffix.lower() in (".mp4", ".mov", ".avi"))
    return clips[:limit]


@dataclass
class Clip:
    """Decoded frames of one source video, at the size they will be shown at."""

    name: str
    frames: list[np.ndarray]
    decode_s: float

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self.frames)


def decode_clip(path: Path, max_frames: int, fit: tuple[int, int] | None = None) -> Clip:
    """Decode up to ``max_frames`` RGB frames; ``fit=(w, h)``: cover-resize each to that size."""
    from realtime.sources import VideoFileSource

    frames: list[np.ndarray] = []
    start = time.perf_counter()
    with VideoFileSource(path, paced=False) as source:
        for image, _ in source:
            frames.append(cover_resize(image, fit) if fit else image)
            if len(frames) >= max_frames:
                break
    return Clip(path.name, frames, time.perf_counter() - start)


def cover_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to fill ``size=(w, h)`` keeping the aspect ratio, then centre-crop (a call's tile)."""
    w, h = size
    ih, iw = image.shape[:2]
    scale = max(w / iw, h / ih)
    resized = cv2.resize(
        image, (max(w, round(iw * scale)), max(h, round(ih * scale))), interpolation=cv2.INTER_LINEAR
    )
    y0 = (resized.shape[0] - h) // 2
    x0 = (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y0 : y0 + h, x0 : x0 + w])


def ping_pong(i: int, n: int) -> int:
    """Frame index for step ``i`` through a clip of ``n`` frames played forth and back (no jump cut)."""
    if n <= 1:
        return 0
    period = 2 * (n - 1)
    k = i % period
    return k if k < n else period - k


@dataclass
class View:
    """Composes frame ``i`` of the benchmark view from decoded clips (cheap, timed as decode)."""

    faces: int
    size: tuple[int, int]
    tiles: list[tuple[Clip, int, bool]]  # (clip, time offset, mirrored)

    def frame(self, i: int) -> np.ndarray:
        w, h = self.size
        if self.faces == 1:
            clip, offset, mirror = self.tiles[0]
            image = clip.frames[ping_pong(i + offset, len(clip.frames))]
            out = (
                image
                if image.shape[:2] == (h, w)
                else cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
            )
            return out[:, ::-1].copy() if mirror else out
        n = int(round(self.faces**0.5))
        tw, th = w // n, h // n
        canvas = np.zeros((h, w, 3), np.uint8)
        for k, (clip, offset, mirror) in enumerate(self.tiles):
            tile = clip.frames[ping_pong(i + offset, len(clip.frames))]
            if tile.shape[:2] != (th, tw):
                tile = cover_resize(tile, (tw, th))
            r, c = divmod(k, n)
            canvas[r * th : (r + 1) * th, c * tw : (c + 1) * tw] = tile[:, ::-1] if mirror else tile
        return canvas


def build_view(
    faces: int, frames: int, source: Path | None = None, real_root: Path = SHARED_REAL
) -> tuple[View, float]:
    """The benchmark view and the seconds spent decoding its clips."""
    if faces not in (1, 4, 9):
        raise InputError(f"--faces must be 1, 4 or 9, got {faces}")
    primary = source or sample_clip_path()
    if faces == 1:
        size = SINGLE_SIZE if source is None else (0, 0)
        clip = decode_clip(primary, frames)
        if source is not None:
            h, w = clip.frames[0].shape[:2]
            size = (w, h)
        return View(1, size, [(clip, 0, False)]), clip.decode_s
    n = int(round(faces**0.5))
    tile_size = (GALLERY_SIZE[0] // n, GALLERY_SIZE[1] // n)
    clips = [decode_clip(primary, frames, tile_size)]
    if source is None:
        clips += [decode_clip(p, frames, tile_size) for p in shared_real_clips(root=real_root)][: faces - 1]
    tiles: list[tuple[Clip, int, bool]] = [(c, 0, False) for c in clips]
    base = clips[0]
    k = 1
    while len(tiles) < faces:  # shifted (in time) and mirrored copies of the primary clip
        tiles.append((base, 17 * k, k % 2 == 1))
        k += 1
    return View(faces, GALLERY_SIZE, tiles), sum(c.decode_s for c in clips)


def percentiles_ms(samples_s: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(samples_s, dtype=np.float64) * 1000.0
    if arr.size == 0:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0}
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 3),
        "p95_ms": round(float(p95), 3),
        "p99_ms": round(float(p99), 3),
        "mean_ms": round(float(arr.mean()), 3),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(provider: str) -> dict[str, Any]:
    import onnxruntime as ort

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 0,
        "usable_cores": usable,
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers_available": ort.get_available_providers(),
        "provider": provider,
    }


@dataclass
class BenchResult:
    frames: int
    faces_requested: int
    resolution: tuple[int, int]
    e2e_s: list[float] = field(default_factory=list)
    stage_s: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    faces_seen: list[int] = field(default_factory=list)
    detect_passes: list[int] = field(default_factory=list)
    tracks_created: int = 0

    def summary(self, session: Any, model: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        total = float(sum(self.e2e_s))
        fps = len(self.e2e_s) / total if total > 0 else 0.0
        e2e = percentiles_ms(self.e2e_s)
        meta = session.meta
        out: dict[str, Any] = {
            "fps": round(fps, 2),
            "e2e_p99_ms": e2e["p99_ms"],
            "e2e": e2e,
            "stages": {name: percentiles_ms(self.stage_s[name]) for name in STAGES},
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "frames": len(self.e2e_s),
            "faces_requested": self.faces_requested,
            "faces_mean": round(float(np.mean(self.faces_seen)) if self.faces_seen else 0.0, 2),
            "faces_min": int(min(self.faces_seen)) if self.faces_seen else 0,
            # work, not time: counts do not depend on what else the machine is running
            "detect_passes_mean": round(float(np.mean(self.detect_passes)), 2) if self.detect_passes else 0.0,
            "detect_passes_max": int(max(self.detect_passes)) if self.detect_passes else 0,
            "detect_tiles": str(getattr(session, "detect_tiles", "?")),
            "tracks_created": self.tracks_created,
            "resolution": f"{self.resolution[0]}x{self.resolution[1]}",
            "model": {
                "path": model,
                "version": meta.model_version,
                "crop": meta.crop.size,
                "window": meta.window,
                "stride": meta.stride,
                "arch": meta.arch,
            },
            "backend": getattr(session.backend, "name", type(session.backend).__name__),
            "machine": machine_description(session.provider),
        }
        out.update(extra or {})
        targets = TARGETS.get(self.faces_requested, {})
        out["targets"] = {
            **{f"{k}>=" if k == "fps" else f"{k}<=": v for k, v in targets.items()},
            "peak_rss_mb<=": RSS_TARGET_MB,
        }
        met = fps >= targets.get("fps", 0.0) and e2e["p99_ms"] <= targets.get("e2e_p99_ms", float("inf"))
        out["targets_met"] = bool(met and out["peak_rss_mb"] <= RSS_TARGET_MB)
        return out


def run_bench(
    session: Any,
    view: View,
    frames: int,
    decode_s_per_frame: float,
    warmup: int,
    fps: float = 30.0,
    progress: Callable[[int], None] | None = None,
) -> BenchResult:
    """Feed ``warmup + frames`` composed frames through ``session.process``; time the last ``frames``.

    Warm-up frames fill every track's window (so head timings are the steady state) and let
    ONNX Runtime and MediaPipe allocate; they are processed but not counted.
    """
    result = BenchResult(frames=frames, faces_requested=view.faces, resolution=view.size)
    for i in range(warmup + frames):
        compose_start = time.perf_counter()
        image = view.frame(i)
        compose_s = time.perf_counter() - compose_start
        start = time.perf_counter()
        events = session.process(image, i / fps)
        elapsed = time.perf_counter() - start
        if i < warmup:
            continue
        times = session.last_times.as_dict()
        times["decode"] = decode_s_per_frame + compose_s
        for name in STAGES:
            result.stage_s[name].append(float(times.get(name, 0.0)))
        result.e2e_s.append(elapsed)
        result.faces_seen.append(len(events))
        result.detect_passes.append(session.last_passes)
        if progress:
            progress(1)
    result.tracks_created = session.tracker.created
    return result


def format_table(summary: dict[str, Any]) -> str:
    """Human-readable report: one line per stage, then the totals against the targets."""
    lines = [
        f"{summary['resolution']}, {summary['faces_requested']} face(s) requested, "
        f"{summary['faces_mean']:.1f} found per frame (fewest {summary['faces_min']}), "
        f"{summary['frames']} frames, {summary['backend']} on {summary['machine']['provider']}",
        f"detection: tiles {summary['detect_tiles']}, {summary['detect_passes_mean']:.2f} detector "
        f"passes per frame (most {summary['detect_passes_max']}), {summary['tracks_created']} "
        f"track(s) started",
        f"{'stage':<8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}",
    ]
    for name, stats in summary["stages"].items():
        lines.append(f"{name:<8}{stats['p50_ms']:>9.2f}{stats['p95_ms']:>9.2f}{stats['p99_ms']:>9.2f}")
    e2e = summary["e2e"]
    lines.append(
        f"{'e2e':<8}{e2e['p50_ms']:>9.2f}{e2e['p95_ms']:>9.2f}{e2e['p99_ms']:>9.2f}  (decode excluded)"
    )
    targets = ", ".join(f"{k}{v:g}" for k, v in summary["targets"].items())
    verdict = "met" if summary["targets_met"] else "NOT met"
    lines.append(
        f"fps {summary['fps']:.1f}, e2e p99 {summary['e2e_p99_ms']:.1f} ms, peak RSS "
        f"{summary['peak_rss_mb']:.0f} MB (decoded clips {summary.get('frame_buffer_mb', 0):.0f} MB); "
        f"targets {targets}: {verdict}"
    )
    m = summary["machine"]
    lines.append(
        f"machine: {m['cpu']}, {m['usable_cores']} usable cores, load {m['load_avg_1m']}, "
        f"onnxruntime {m['onnxruntime']}"
    )
    return "\n".join(lines)
