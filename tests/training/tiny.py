"""A tiny training manifest made from real face video, and the overrides that train on it in seconds."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2

from tests.media import carphone_path, read_frames, write_video

N_FRAMES = 24  # frames of carphone each tiny video keeps


def make_tiny_manifest(root: Path) -> Path:
    """carphone (real), the project's own self-blended manipulation of it (fake, under two face-model
    identities) and a still: a manifest of every kind of row, small enough to train on in seconds."""
    from training.manipulate import make_self_blended_video

    frames = read_frames(carphone_path(), limit=N_FRAMES)
    write_video(root / "real.mp4", frames)
    make_self_blended_video(root / "real.mp4", root / "fake.mp4", seed=1, progress=False)
    cv2.imwrite(str(root / "still.jpg"), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    # a second "face model": the same manipulation filed under another identity
    (root / "fake_b.mp4").write_bytes((root / "fake.mp4").read_bytes())
    rows = [
        ("real.mp4", "video", "real", "tiny", "carphone", "none", "p1", "train"),
        ("fake.mp4", "video", "fake", "tiny", "carphone", "selfblend", "p1", "train"),
        ("fake_b.mp4", "video", "fake", "tiny", "carphone_b", "selfblend", "", "train"),
        ("still.jpg", "image", "real", "tiny", "carphone_photo", "none", "", "train"),
    ]
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "kind", "label", "source", "identity", "method", "pair_id", "split"])
        writer.writerows(rows)
    return manifest


def tiny_run_overrides(tiny_manifest: Path, tmp_path: Path, out: Path) -> list[str]:
    """Overrides that shrink a recipe to two encoder steps on the tiny manifest."""
    return [
        f"data.manifest={tiny_manifest}",
        f"data.cache_dir={tmp_path / 'cache'}",
        f"out_dir={out}",
        f"data.max_frames={N_FRAMES}",
        f"data.call_max_frames={N_FRAMES}",
        "data.calib_fraction=0",
        "data.exclude_multi_face_fakes=",
        "model.imagenet=",
        "model.window=4",
        "encoder.steps=2",
        "encoder.batch=4",
    ]
