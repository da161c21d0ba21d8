"""How the encoder stage assembles a batch: families, self-blends, source pairing, compression."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from training.augment import compress_crop
from training.cache import CachedClip
from training.clips import Clip, ClipGroups
from training.config import EncoderStage
from training.landmarks import FaceLandmarks
from training.manifest import ManifestRow
from training.sampling import sample_encoder_batch

FaceClip = tuple[list[np.ndarray], list[FaceLandmarks | None]]


def _clip(
    path: str, label: str, source: str, crops: list[np.ndarray], mesh: np.ndarray | None = None
) -> Clip:
    n = len(crops)
    data = CachedClip(
        crops=np.stack(crops),
        frame_index=np.arange(n) * 2,
        t=np.arange(n) / 15.0,
        track_id=np.zeros(n, np.int64),
        mesh=mesh if mesh is not None else np.zeros((n, 0, 2), np.float32),
        fps=30.0,
    )
    kind = "image" if path.endswith(".jpg") else "video"
    method = "deepfacelive" if source == "deepfacelive" else ("wav2lip" if label == "fake" else "none")
    return Clip(ManifestRow(path, kind, label, source, path, method), data, "clean")


def _solid(value: int, n: int = 3) -> list[np.ndarray]:
    return [np.full((32, 32, 3), value, np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def groups(face_clip: FaceClip) -> ClipGroups:
    """Fakes of two families; reals of those two sources (one with landmarks) and of a third; a still.
    Each clip's crops are one solid grey level, so a crop tells where it was drawn from."""
    crops, marks = face_clip
    mesh = np.stack([m.points if m is not None else np.full((468, 2), np.nan, np.float32) for m in marks])
    clips = [
        _clip("deepfacelive/fake/a.mp4", "fake", "deepfacelive", _solid(10)),
        _clip("talking/wav2lip/fake/a.mp4", "fake", "wav2lip", _solid(20)),
        _clip("talking/wav2lip/fake/b.mp4", "fake", "wav2lip", _solid(21)),
        _clip("talking/wav2lip/fake/c.mp4", "fake", "wav2lip", _solid(22)),
        _clip("deepfacelive/real/a.mp4", "real", "deepfacelive", _solid(110)),
        _clip("talking/wav2lip/real/a.mp4", "real", "wav2lip", list(crops), mesh),
        _clip("real/grid/a.mp4", "real", "grid", _solid(130)),
        _clip("real/lfw/a.jpg", "real", "lfw", _solid(140, 1)),
    ]
    return ClipGroups.build(clips)


def test_groups_hold_fakes_by_family_and_reals_by_source(groups: ClipGroups) -> None:
    assert {f: len(c) for f, c in groups.fakes.items()} == {"live_swap": 1, "lip_sync": 3}
    assert sorted(groups.reals_by_source) == ["deepfacelive", "grid", "talking/wav2lip"]
    assert len(groups.still_reals) == 1 and len(groups.sbi_sources) == 1


def test_half_fake_and_every_family_equally_often(groups: ClipGroups) -> None:
    st = EncoderStage(batch=400)
    batch = sample_encoder_batch(np.random.default_rng(0), groups, st)
    assert len(batch.crops) == 400 and sum(batch.labels) == 200
    fakes = Counter(int(c[0, 0, 0]) // 10 for c, y in zip(batch.crops, batch.labels, strict=True) if y)
    # one live-swap clip against three lip-sync clips, yet each family fills about half the fakes
    assert 0.4 < fakes[1] / 200 < 0.6 and 0.4 < fakes[2] / 200 < 0.6
    assert set(batch.levels) == {0}  # compress 0: every crop as cached


def test_source_pairing_draws_the_real_from_the_fakes_footage(groups: ClipGroups) -> None:
    st = EncoderStage(batch=200, source_pairing=1.0)
    batch = sample_encoder_batch(np.random.default_rng(1), groups, st)
    for k in range(0, 200, 2):
        fake, real = batch.crops[k], batch.crops[k + 1]
        assert batch.labels[k : k + 2] == [1, 0]
        if fake[0, 0, 0] == 10:  # a live swap: its real is the deepfacelive stream
            assert real[0, 0, 0] == 110
        else:  # a lip-sync edit: its real is the wav2lip repository's real clip (the face video)
            assert real.shape == (128, 128, 3)
    unpaired = sample_encoder_batch(np.random.default_rng(1), groups, EncoderStage(batch=200))
    reals = Counter(int(c[0, 0, 0]) for c, y in zip(unpaired.crops, unpaired.labels, strict=True) if not y)
    assert reals[130] > 0  # without pairing, reals of other sources (grid) come too


def test_self_blends_are_fakes_made_from_real_crops(groups: ClipGroups) -> None:
    st = EncoderStage(batch=40, sbi_fraction=1.0)
    batch = sample_encoder_batch(np.random.default_rng(2), groups, st)
    fakes = [c for c, y in zip(batch.crops, batch.labels, strict=True) if y]
    source = groups.sbi_sources[0].data.crops
    assert all(c.shape == (128, 128, 3) for c in fakes)
    # each is a real face crop (or its mirror) with a blended face: close to one, not equal to any
    for crop in fakes:
        dist = min(
            min(np.abs(crop.astype(int) - s).mean(), np.abs(crop[:, ::-1].astype(int) - s).mean())
            for s in source
        )
        assert 0 < dist < 40


def test_compression_levels_hit_reals_and_fakes_alike(groups: ClipGroups) -> None:
    st = EncoderStage(batch=600, compress=1.0)
    batch = sample_encoder_batch(np.random.default_rng(3), groups, st)
    by_label = {
        y: Counter(lv for lv, lab in zip(batch.levels, batch.labels, strict=True) if lab == y) for y in (0, 1)
    }
    for y in (0, 1):
        assert by_label[y][0] == 0 and by_label[y][1] > 100 and by_label[y][2] > 100


def test_heavier_compression_loses_more_of_the_crop(face_clip: FaceClip) -> None:
    crop = face_clip[0][0]
    rng = np.random.default_rng(0)
    err = {lv: np.abs(compress_crop(crop, lv, rng).astype(int) - crop).mean() for lv in (0, 1, 2)}
    assert err[0] == 0 and 0 < err[1] < err[2]
