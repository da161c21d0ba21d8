"""The project's own face manipulation: a self-blended swap rendered into a real video.

Why: the demo and the end-to-end tests need a manipulated clip, and shipping third-party deepfake
footage is not an option (licences, privacy). This renders a temporally consistent, stronger
self-blend (wider colour and geometry perturbation, nearly full blend) into every tracked face of a
real video and writes an H.264 mp4. It goes through the same detector, tracker and crop geometry as
the runtime, and pastes the fake crop back with the inverse crop warp, so the blend boundary sits
exactly where an aligned-crop swapper would put it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np

from realtime.atomic import atomic_path
from realtime.crop import CropSpec, crop_matrix
from realtime.errors import InputError
from training.landmarks import CropLandmarker, FaceLandmarks
from training.sbi import SblParams, jitter_params, sample_params, self_blend

MANIP_CROP = CropSpec(size=256, scale=1.1)  # finer than the model's crop so the paste-back stays sharp
FRAME_JITTER = 0.25  # a little per-frame wobble, like a live swapper's flicker
OUTPUT_CRF = 10  # near-lossless, so the manipulation (not our encoder) is what differs


@dataclass(frozen=True)
class ManipulationSummary:
    """What :func:`make_self_blended_video` wrote: frame count, frames with at least one blended
    face, distinct face tracks, output size ``(width, height)`` and frame rate."""

    frames: int
    blended_frames: int
    tracks: int
    size: tuple[int, int]
    fps: float


def _track_params(seed: int, track_id: int) -> tuple[SblParams, np.random.Generator]:
    """Per-track settings, fixed for the whole track (one swap per person) and reproducible.

    Stronger than training's SBI where a swap is (geometry, smoothing, full blend), paper-sized
    where it is not (colour: a green face would be a caricature, not a fake)."""
    rng = np.random.default_rng([seed, track_id])
    params = sample_params(rng, MANIP_CROP.size, strength=1.0)
    size = MANIP_CROP.size
    params = dataclasses.replace(
        params,
        scale=float(1 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.06)),
        shift_x=float(rng.uniform(-0.03, 0.03)),
        shift_y=float(rng.uniform(-0.03, 0.03)),
        elastic_amp=float(rng.uniform(1.5, 3.0) * size / 128),
        filter_kind="blur",
        filter_amount=float(rng.uniform(0.4, 0.8) * size / 128),
        blend_ratio=float(rng.uniform(0.9, 1.0)),
        mask_region="oval",
        mask_morph=int(round(rng.uniform(-0.03, 0.0) * size)),
        mask_blur=float(rng.uniform(0.015, 0.03) * size),
    )
    return params, rng


def paste_face(frame: np.ndarray, fake_crop: np.ndarray, mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``paste_face(frame, fake_crop, mask, matrix) -> frame``: warp a fake crop and its soft mask
    back through the inverse of the frame-to-crop ``matrix`` and blend them in (only inside the
    mask's bounding box, so the rest of the frame is untouched bit for bit)."""
    h, w = frame.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    mask_full = cv2.warpAffine(mask, inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    ys, xs = np.nonzero(mask_full > 1.0 / 512)
    if len(xs) == 0:
        return frame
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    # Warp the fake only into the region it affects.
    shift = np.array(inverse, dtype=np.float64)
    shift[:, 2] -= (x0, y0)
    fake_roi = cv2.warpAffine(fake_crop, shift, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    alpha = mask_full[y0:y1, x0:x1, None]
    out = frame.copy()
    roi = out[y0:y1, x0:x1].astype(np.float32)
    roi += alpha * (fake_roi.astype(np.float32) - roi)
    out[y0:y1, x0:x1] = np.clip(roi + 0.5, 0, 255).astype(np.uint8)
    return out


def _open_video(path: Path) -> tuple[Any, Any]:
    if not path.is_file():
        raise InputError(f"no such video file: {path}")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"cannot read {path} as a video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path} has no video stream")
    return container, container.streams.video[0]


def make_self_blended_video(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    seed: int,
    max_frames: int | None = None,
    progress: bool = True,
) -> ManipulationSummary:
    """``make_self_blended_video(src_path, dst_path, seed, max_frames=None, progress=True) -> summary``.

    Returns a :class:`ManipulationSummary`.

    Decodes ``src_path``, tracks faces (MediaPipe detector + :class:`realtime.tracker.FaceTracker`),
    renders a per-track, temporally consistent self-blend into each face, and writes an H.264 mp4
    to ``dst_path`` atomically (temporary file in the same folder, then rename). Same frame count
    (up to ``max_frames``), size (odd sides are trimmed by one pixel for yuv420p) and frame rate as
    the source. Deterministic given ``seed``. Raises :class:`realtime.errors.InputError` for a
    missing or unreadable source; nothing is left at ``dst_path`` on failure.
    """
    from tqdm import tqdm

    from realtime.faces import FaceDetector
    from realtime.tracker import FaceTracker

    src, dst = Path(src_path), Path(dst_path)
    container, stream = _open_video(src)
    rate = stream.average_rate or stream.guessed_rate or Fraction(30)
    fps = float(rate)
    total = stream.frames or None
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames

    half = CropSpec(size=MANIP_CROP.size // 2, scale=MANIP_CROP.scale)
    tracks: dict[int, tuple[SblParams, np.random.Generator]] = {}
    n_frames = blended = 0
    with (
        atomic_path(dst, suffix=".mp4") as tmp,
        container,
        av.open(str(tmp), "w", format="mp4") as out,
        FaceDetector("full") as detector,
        CropLandmarker(half) as landmarker,
    ):
        tracker = FaceTracker()
        out_stream: Any = None
        bar = tqdm(total=total, desc=f"manipulating {src.name}", unit="frame", file=sys.stderr,
                   disable=not progress)  # fmt: skip
        try:
            frames_iter = container.decode(stream)
            for frame in frames_iter:
                if max_frames is not None and n_frames >= max_frames:
                    break
                rgb = frame.to_ndarray(format="rgb24")
                h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
                rgb = np.ascontiguousarray(rgb[:h, :w])
                if out_stream is None:
                    out_stream = out.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
                    out_stream.width, out_stream.height, out_stream.pix_fmt = w, h, "yuv420p"
                    out_stream.options = {"crf": str(OUTPUT_CRF), "preset": "veryfast"}
                touched = False
                for track, _det in tracker.update(detector(rgb), n_frames / fps):
                    if track.track_id not in tracks:
                        tracks[track.track_id] = _track_params(seed, track.track_id)
                    base, rng = tracks[track.track_id]
                    marks = landmarker.from_frame(rgb, track.keypoints)
                    scaled = None if marks is None else FaceLandmarks.from_points(marks.points * 2)
                    matrix = crop_matrix(track.keypoints, MANIP_CROP)
                    side = (MANIP_CROP.size, MANIP_CROP.size)
                    crop = cv2.warpAffine(rgb, matrix, side, borderMode=cv2.BORDER_REFLECT101)
                    fake, mask = self_blend(crop, scaled, jitter_params(base, rng, FRAME_JITTER))
                    rgb = paste_face(rgb, fake, mask, matrix)
                    touched = True
                blended += touched
                video_frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                for packet in out_stream.encode(video_frame):
                    out.mux(packet)
                n_frames += 1
                bar.update(1)
        except av.FFmpegError as exc:
            raise InputError(f"{src} is corrupt after frame {n_frames} ({exc})") from None
        finally:
            bar.close()
        if out_stream is None:
            raise InputError(f"{src} has no decodable frames")
        for packet in cast(Any, out_stream).encode(None):
            out.mux(packet)
    return ManipulationSummary(
        frames=n_frames, blended_frames=blended, tracks=len(tracks), size=(w, h), fps=fps
    )
