"""The project's own face manipulation on real footage (carphone_pristine.mp4, real detector, real H.264)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime.errors import InputError
from realtime.faces import FaceDetector
from tests.media import carphone_path, read_frames
from training.manipulate import make_self_blended_video

N_FRAMES = 24


@pytest.fixture(scope="module")
def manipulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    dst = tmp_path_factory.mktemp("manip") / "fake.mp4"
    summary = make_self_blended_video(carphone_path(), dst, seed=3, max_frames=N_FRAMES, progress=False)
    return dst, summary


def test_same_frame_count_size_and_a_clean_folder(manipulated) -> None:
    dst, summary = manipulated
    src = read_frames(carphone_path(), N_FRAMES)
    out = read_frames(dst)
    assert len(out) == len(src) == N_FRAMES == summary.frames
    assert out[0].shape == src[0].shape
    assert summary.blended_frames == N_FRAMES and summary.tracks == 1
    assert [p.name for p in dst.parent.iterdir()] == ["fake.mp4"], "temporary file left behind"


def test_changes_the_face_and_not_the_background(manipulated) -> None:
    dst, _ = manipulated
    src = read_frames(carphone_path(), N_FRAMES)
    out = read_frames(dst)
    with FaceDetector("full") as detector:
        for i in (0, N_FRAMES // 2, N_FRAMES - 1):
            (det,) = detector(src[i])
            x0, y0, x1, y1 = det.box.astype(int)
            diff = np.abs(out[i].astype(np.int16) - src[i].astype(np.int16)).max(axis=2)
            # The inner face (middle of the detector box) is manipulated...
            bw, bh = x1 - x0, y1 - y0
            inner = diff[y0 + bh // 4 : y1 - bh // 4, x0 + bw // 4 : x1 - bw // 4]
            # ...pixels farther than half a face width from the box carry only re-encoding noise
            # (a second yuv420 round trip of carphone's saturated colours costs ~3 grey levels).
            far = np.ones_like(diff, dtype=bool)
            far[max(0, y0 - bh // 2) : y1 + bh // 2, max(0, x0 - bw // 2) : x1 + bw // 2] = False
            assert inner.mean() > 8.0, f"frame {i}: face barely changed ({inner.mean():.1f})"
            assert diff[far].mean() < 4.5, f"frame {i}: background changed ({diff[far].mean():.1f})"
            assert inner.mean() > 3.5 * diff[far].mean()


def test_deterministic_given_seed(manipulated, tmp_path: Path) -> None:
    dst, _ = manipulated
    again = tmp_path / "again.mp4"
    make_self_blended_video(carphone_path(), again, seed=3, max_frames=N_FRAMES, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(read_frames(dst), read_frames(again), strict=True))


def test_unreadable_source_is_refused_and_nothing_written(tmp_path: Path) -> None:
    bogus = tmp_path / "not_a_video.mp4"
    bogus.write_bytes(b"this is not a video" * 100)
    dst = tmp_path / "out" / "fake.mp4"
    with pytest.raises(InputError):
        make_self_blended_video(bogus, dst, seed=0, progress=False)
    with pytest.raises(InputError, match="no such video"):
        make_self_blended_video(tmp_path / "missing.mp4", dst, seed=0, progress=False)
    assert not dst.exists() and (not dst.parent.exists() or not any(dst.parent.iterdir()))
