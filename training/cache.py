"""Face-crop cache: decode each video once, keep aligned crops, never decode it again.

Training on 2 CPU cores cannot afford to decode and detect faces every epoch, so each manifest row
is turned once into a ``.npz`` of aligned crops made by the *runtime's* code (``FaceDetector`` ->
``FaceTracker`` -> ``align_face``), so training sees exactly the crops the live pipeline makes. The
cache is keyed by crop spec, sampling and domain, written atomically per video, and resumable: an
interrupted build picks up where it stopped.

Two domains: ``clean`` (the files as they are) and ``call`` (each video first passed through a
sampled video-call degradation: real H.264/VP8 re-encoding at call bitrates and resolutions, noise,
low light...). The ``call`` crops are the unlabelled target domain of the adversarial adaptation.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from realtime.atomic import atomic_path
from realtime.crop import CropSpec, align_face
from realtime.faces import FaceDetector
from realtime.tracker import FaceTracker
from training.landmarks import N_MESH_POINTS, CropLandmarker
from training.manifest import ManifestRow

CACHE_VERSION = 3
MAX_DECODE_SIDE = 1280  # frames larger than this are downscaled before detection (crops keep detail)


@dataclass
class CachedClip:
    """Aligned crops of the main face of one video (or image) in one domain."""

    crops: np.ndarray  # (N, S, S, 3) uint8 RGB
    frame_index: np.ndarray  # (N,) index in the decoded stream
    t: np.ndarray  # (N,) seconds
    track_id: np.ndarray  # (N,) tracker id (the clip keeps the longest track)
    mesh: np.ndarray  # (N, 468, 2) float32 FaceMesh points in crop pixels (NaN where unknown), or (N, 0, 2)
    fps: float

    def __len__(self) -> int:
        return len(self.crops)


def cache_key(row: ManifestRow, spec: CropSpec, domain: str, every: int, max_frames: int, seed: int) -> str:
    blob = f"{CACHE_VERSION}|{row.path}|{spec.key()}|{domain}|{every}|{max_frames}|{seed}"
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def decode_frames(path: Path, max_frames: int) -> tuple[list[np.ndarray], float]:
    """Decode up to ``max_frames`` RGB frames (images: one frame) and the frame rate."""
    if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp", ".webp"}:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"unreadable image {path}")
        return [cv2.cvtColor(img, cv2.COLOR_BGR2RGB)], 25.0
    import av

    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25.0)
        for frame in container.decode(stream):
            img = frame.to_ndarray(format="rgb24")
            scale = MAX_DECODE_SIDE / max(img.shape[:2])
            if scale < 1.0:
                img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            frames.append(img)
            if len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError(f"no frames decoded from {path}")
    return frames, fps


def crop_main_track(
    frames: list[np.ndarray],
    fps: float,
    spec: CropSpec,
    detector: FaceDetector,
    every: int,
    landmarker: CropLandmarker | None = None,
) -> CachedClip | None:
    """Track faces through all frames; keep every ``every``-th crop of the longest track.

    With a ``landmarker``, each kept crop also gets its 468 FaceMesh points (self-blending masks),
    computed from the full frame at twice the crop's resolution.
    """
    tracker = FaceTracker()
    per_track: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    no_mesh = np.full((N_MESH_POINTS if landmarker else 0, 2), np.nan, dtype=np.float32)
    for i, frame in enumerate(frames):
        for track, _ in tracker.update(detector(frame), i / fps):
            if i % every:
                continue
            mesh = no_mesh
            if landmarker is not None:
                found = landmarker.from_frame(frame, track.keypoints)
                mesh = found.points if found is not None else no_mesh
            crop = align_face(frame, track.keypoints, spec)
            per_track.setdefault(track.track_id, []).append((i, crop, mesh))
    if not per_track:
        return None
    tid, items = max(per_track.items(), key=lambda kv: len(kv[1]))
    idx = np.array([i for i, _, _ in items], dtype=np.int32)
    return CachedClip(
        crops=np.stack([c for _, c, _ in items]),
        frame_index=idx,
        t=idx / fps,
        track_id=np.full(len(idx), tid, dtype=np.int32),
        mesh=np.stack([m for _, _, m in items]).astype(np.float32),
        fps=fps,
    )


def save_clip(clip: CachedClip, path: Path) -> None:
    """Atomic write: a crash never leaves a half-written cache entry behind."""
    with atomic_path(path, suffix=".tmp.npz") as tmp:  # np.savez appends .npz to other names
        np.savez(
            tmp,
            crops=clip.crops,
            frame_index=clip.frame_index,
            t=clip.t,
            track_id=clip.track_id,
            mesh=clip.mesh,
            fps=np.float32(clip.fps),
        )


def load_clip(path: Path) -> CachedClip:
    with np.load(path) as data:
        return CachedClip(
            crops=data["crops"],
            frame_index=data["frame_index"],
            t=data["t"],
            track_id=data["track_id"],
            mesh=data["mesh"],
            fps=float(data["fps"]),
        )


@dataclass
class CacheSpec:
    """What a cache holds: crop geometry, domain, temporal sampling and frame budget per video."""

    crop: CropSpec
    domain: str = "clean"
    every: int = 2
    max_frames: int = 300
    seed: int = 0
    landmarks_for_real: bool = True


def build_cache(
    rows: list[ManifestRow], spec: CacheSpec, cache_dir: Path, progress: bool = True
) -> dict[str, Path]:
    """Make sure every row has a cache entry; returns row path -> entry path (faceless rows left out).

    Rows that fail (unreadable file, no face) are reported once and skipped; rerunning retries them
    cheaply because finished entries are skipped.
    """
    if spec.domain not in ("clean", "call"):
        raise ValueError(f"domain must be 'clean' or 'call', not {spec.domain!r}")
    out: dict[str, Path] = {}
    todo: list[tuple[ManifestRow, Path]] = []
    for row in rows:
        entry = (
            cache_dir
            / f"{cache_key(row, spec.crop, spec.domain, spec.every, spec.max_frames, spec.seed)}.npz"
        )
        if entry.exists():
            out[row.path] = entry
        else:
            todo.append((row, entry))
    if not todo:
        return out
    detector = FaceDetector("full")
    landmarker = CropLandmarker(spec.crop) if spec.landmarks_for_real else None
    rng = np.random.default_rng(spec.seed)
    for row, entry in tqdm(todo, desc=f"crop cache ({spec.domain})", unit="video", disable=not progress):
        try:
            frames, fps = decode_frames(Path(row.abspath), spec.max_frames)
            if spec.domain == "call" and len(frames) > 1:
                from training.degrade import degrade_clip, sample_call_degradation

                frames = degrade_clip(frames, fps, sample_call_degradation(rng))
            every = spec.every if len(frames) > 1 else 1
            marks = landmarker if row.label == "real" else None
            clip = crop_main_track(frames, fps, spec.crop, detector, every, marks)
        except Exception as exc:  # one bad file must not stop a long build
            warnings.warn(f"skipping {row.path}: {type(exc).__name__}: {exc}", stacklevel=1)
            continue
        if clip is None:
            warnings.warn(f"skipping {row.path}: no face found", stacklevel=1)
            continue
        save_clip(clip, entry)
        out[row.path] = entry
    detector.close()
    if landmarker is not None:
        landmarker.close()
    return out
