"""Families of fakes: every fake of the shared manifest has one, reals none."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.shared_data import SHARED_DATA, needs_shared
from training.families import FAMILIES, OTHER, family_of
from training.manifest import ManifestRow, read_manifest


def _row(path: str, label: str = "fake", source: str = "s", method: str = "m") -> ManifestRow:
    return ManifestRow(path, "video", label, source, "someone", method)


def test_families_follow_the_folder_and_the_method() -> None:
    assert (
        family_of(_row("deepfacelive/fake/a.mp4", source="deepfacelive", method="deepfacelive"))
        == "live_swap"
    )
    assert family_of(_row("swaps/ghost/fake/a.mp4", source="ghost")) == "face_swap"
    assert family_of(_row("academic/ffpp/Deepfakes/a.mp4", source="ffpp_c23")) == "academic"
    assert family_of(_row("ffpp_dfdc_samples/dfdc/a.mp4", source="dfdc")) == "academic"
    assert family_of(_row("talking/wav2lip_gfpgan/fake/a.mp4", method="wav2lip+gfpgan")) == "lip_sync"
    assert family_of(_row("talking/sadtalker/fake/a.mp4", method="sadtalker-artwork")) == "animation"
    assert family_of(_row("mine/fake.mp4")) == OTHER
    assert family_of(_row("talking/sadtalker/real/a.mp4", label="real")) is None


@pytest.mark.shared_data
@needs_shared
def test_every_fake_of_the_shared_manifest_is_in_a_family() -> None:
    rows = read_manifest(SHARED_DATA / "manifest.csv")
    counts = Counter(family_of(r) for r in rows if r.label == "fake" and r.kind == "video")
    assert set(counts) == set(FAMILIES)
    assert counts["lip_sync"] == 8 and counts["live_swap"] == 41
