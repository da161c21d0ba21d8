"""How the encoder stage assembles a batch: twins, transplants, and the random stream recipes rely on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")

from training.cache import CachedClip  # noqa: E402
from training.clips import Clip, ClipGroups  # noqa: E402
from training.landmarks import FaceLandmarks  # noqa: E402
from training.manifest import ManifestRow  # noqa: E402
from training.sbi import sample_params, self_blend  # noqa: E402
from training.train import sample_frame_batch  # noqa: E402

FaceClip = tuple[list[np.ndarray], list[FaceLandmarks | None]]


def _clip(
    path: str, label: str, method: str, crops: list[np.ndarray], mesh: np.ndarray | None, kind: str = "video"
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
    row = ManifestRow(path, kind, label, "test", path, method, "pair" if "pair" in path else "")
    return Clip(row=row, data=data, domain="clean")


@pytest.fixture(scope="module")
def groups_and_pairs(face_clip: FaceClip) -> tuple[ClipGroups, dict[str, Clip], Clip]:
    """A live-swap pair (carphone and its self-blend), a second real stream (carphone mirrored) and a
    real still (a carphone frame upside down)."""
    crops, marks = face_clip
    mesh = np.stack([m.points if m is not None else np.full((468, 2), np.nan, np.float32) for m in marks])
    rng = np.random.default_rng(0)
    swaps = [self_blend(c, m, sample_params(rng))[0] for c, m in zip(crops, marks, strict=True)]
    swap = _clip("pair_fake.mp4", "fake", "deepfacelive", swaps, None)
    twin = _clip("pair_real.mp4", "real", "none", crops, mesh)
    mirrored_mesh = mesh.copy()
    mirrored_mesh[..., 0] = crops[0].shape[1] - 1 - mirrored_mesh[..., 0]
    mirrored = [np.ascontiguousarray(c[:, ::-1]) for c in crops]
    host = _clip("other_real.mp4", "real", "none", mirrored, mirrored_mesh)
    still = _clip("portrait.jpg", "real", "none", [crops[0][::-1].copy()], None, kind="image")
    groups = ClipGroups.build([swap, twin, host, still], [])
    return groups, {"pair": twin}, swap


def test_without_transplants_the_random_stream_is_unchanged(groups_and_pairs) -> None:
    groups, pairs, _ = groups_and_pairs
    a = sample_frame_batch(np.random.default_rng(5), groups, pairs, 16, 0.0, 1.0)
    b = sample_frame_batch(np.random.default_rng(5), groups, pairs, 16, 0.0, 1.0, transplant_prob=0.0)
    assert a.labels == b.labels and all(np.array_equal(x, y) for x, y in zip(a.crops, b.crops, strict=True))


def test_transplants_replace_each_live_pair_with_a_pasted_pair(groups_and_pairs) -> None:
    groups, pairs, swap = groups_and_pairs
    plain, plain_labels, _, _ = sample_frame_batch(np.random.default_rng(5), groups, pairs, 16, 0.0, 1.0)
    crops, labels, _, regions = sample_frame_batch(np.random.default_rng(5), groups, pairs, 16, 0.0, 1.0, 1.0)
    assert len(crops) == 16 and sum(labels) == 8  # same size and balance as without
    live = [k for k, lab in enumerate(labels) if lab == 1 and k + 1 < len(labels) and labels[k + 1] == 0]
    assert live, "the batch should hold live-swap fakes with their twins"
    originals = list(swap.data.crops) + list(pairs["pair"].data.crops)
    for k in live:
        for pasted in (crops[k], crops[k + 1]):
            assert not any(np.array_equal(pasted, o) for o in originals)  # pasted into another stream
        # outside the face both halves are the same host frame
        same = (crops[k] == crops[k + 1]).all(axis=2)
        assert same[:8].all() and not same.all()
        # the fake's region is the paste mask: wherever the two halves differ, and not the border
        fake_region, twin_region = regions[k], regions[k + 1]
        assert fake_region is not None and twin_region is not None
        assert (fake_region[~same] > 0).all() and (fake_region[:8] == 0).all()
        assert not twin_region.any()
    # the same draws without transplants put the swap's own frames there
    plain_live = [k for k, lab in enumerate(plain_labels) if lab == 1]
    assert all(any(np.array_equal(plain[k], o) for o in originals) for k in plain_live)


def test_extra_stills_are_appended_real_photos(groups_and_pairs) -> None:
    groups, pairs, _ = groups_and_pairs
    plain, plain_labels, _, _ = sample_frame_batch(np.random.default_rng(7), groups, pairs, 16, 0.0, 1.0)
    crops, labels, ids, _ = sample_frame_batch(
        np.random.default_rng(7), groups, pairs, 16, 0.0, 1.0, extra_stills=5
    )
    assert len(crops) == 21 and labels[16:] == [0] * 5 and ids[16:] == [""] * 5
    assert labels[:16] == plain_labels and all(
        np.array_equal(a, b) for a, b in zip(crops, plain, strict=False)
    )
    photo = groups.still_reals[0].data.crops[0]
    assert all(np.array_equal(c, photo) for c in crops[16:])


def test_regions_say_where_each_crop_is_fake(groups_and_pairs) -> None:
    """Reals: nowhere. Self-blends: their blend mask. Live fakes without landmarks: unknown."""
    groups, pairs, _ = groups_and_pairs
    batch = sample_frame_batch(np.random.default_rng(3), groups, pairs, 16, 0.5, 1.0)
    assert len(batch.regions) == len(batch.crops) == 16
    for crop, label, region in zip(batch.crops, batch.labels, batch.regions, strict=True):
        if label == 0:
            assert region is not None and region.shape == crop.shape[:2] and not region.any()
    blended = [
        r
        for lab, ident, r in zip(batch.labels, batch.identities, batch.regions, strict=True)
        if lab and not ident
    ]
    assert blended and all(r is not None and 0 < r.mean() < 1 for r in blended)
    swaps = [
        r
        for lab, ident, r in zip(batch.labels, batch.identities, batch.regions, strict=True)
        if lab and ident
    ]
    assert swaps and all(r is None for r in swaps)  # the fixture's swap clip stores no landmarks


def test_rendered_fakes_are_pasted_renderings_of_real_clips(groups_and_pairs) -> None:
    """With ``render_fraction`` some fakes are a real crop with its rendering pasted into the face;
    with none the random stream is what it was."""
    groups, pairs, _ = groups_and_pairs
    plain = sample_frame_batch(np.random.default_rng(9), groups, pairs, 16, 0.0, 1.0)
    unrendered = sample_frame_batch(
        np.random.default_rng(9), groups, pairs, 16, 0.0, 1.0, render_fraction=0.0
    )
    assert plain.labels == unrendered.labels
    assert all(np.array_equal(a, b) for a, b in zip(plain.crops, unrendered.crops, strict=True))
    host = groups.sbi_sources[0]  # a real video with landmarks
    flat = np.full_like(host.data.crops, 128)
    with_renders = dataclasses.replace(groups, renders={host.row.path: flat})
    batch = sample_frame_batch(
        np.random.default_rng(9), with_renders, pairs, 16, 0.0, 1.0, render_fraction=0.6
    )
    assert len(batch.crops) == 16 and sum(batch.labels) == 8
    rendered = [
        (c, r)
        for c, lab, ident, r in zip(batch.crops, batch.labels, batch.identities, batch.regions, strict=True)
        if lab and not ident
    ]
    assert rendered, "render_fraction 0.6 should draw rendered fakes"
    for crop, region in rendered:
        assert region is not None and 0 < region.mean() < 1
        k = next(
            i for i, c in enumerate(host.data.crops) if np.array_equal(c[region == 0], crop[region == 0])
        )
        assert not np.array_equal(crop, host.data.crops[k])  # its face is the pasted rendering
