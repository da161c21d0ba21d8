"""Families of fakes: every fake of the shared manifest has one, reals none."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.shared_data import SHARED_DATA, needs_shared
from training.families import FAMILIES, OTHER, deal_methods, family_of, method_of
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


def test_a_method_is_the_tool_that_made_the_traces() -> None:
    dfl = _row("deepfacelive/fake/a.mp4", source="deepfacelive", method="deepfacelive")
    assert method_of(dfl, "ava+kim") == "live_swap/ava+kim"  # the face model, with those sharing its footage
    assert method_of(_row("academic/ffpp/c40/a.mp4", source="ffpp_c40", method="Deepfakes")) == (
        "academic/Deepfakes"  # c23 and c40 are one method
    )
    assert method_of(_row("ffpp_dfdc_samples/dfdc/a.mp4", source="dfdc", method="dfdc")) == "academic/dfdc"
    assert method_of(_row("talking/w/fake/a.mp4", method="wav2lip+gfpgan")) == "lip_sync/wav2lip"
    sadtalker_lips = _row("talking/s/fake/a.mp4", method="sadtalker-video-lip-sync+gfpgan+dain")
    assert method_of(sadtalker_lips) == "lip_sync/sadtalker-vls"
    assert method_of(_row("talking/s/fake/b.mp4", source="sadtalker", method="sadtalker-artwork")) == (
        "animation/sadtalker"  # a generator, whatever it animated
    )
    assert method_of(_row("swaps/ghost/fake/a.mp4", source="ghost")) == "face_swap/ghost"
    assert method_of(_row("swaps/ghost/real/a.mp4", label="real", source="ghost")) is None


def test_methods_are_dealt_so_every_fold_holds_out_a_share_of_every_family() -> None:
    units = {"academic/a": 40, "academic/b": 12, "academic/c": 12, "academic/d": 10, "lip_sync/x": 1}
    folds = deal_methods(units, 3)
    assert folds["academic/a"] == 0 and {folds["academic/b"], folds["academic/c"]} == {1, 2}
    assert folds["academic/d"] in (1, 2)  # to the lighter of the two
    assert folds["lip_sync/x"] == 0  # each family is dealt on its own
    assert deal_methods(dict(reversed(units.items())), 3) == folds  # not the order of the manifest


@pytest.mark.shared_data
@needs_shared
def test_every_method_of_the_shared_manifest_is_held_out_by_exactly_one_fold() -> None:
    from training.clips import method_fold_of, method_units

    rows = [r for r in read_manifest(SHARED_DATA / "manifest.csv") if r.split == "train"]
    units = method_units(rows)
    folds = method_fold_of(rows, 3)
    assert set(folds) == set(units.values()) and set(folds.values()) == {0, 1, 2}
    for family in FAMILIES:  # each fold holds out some of every family with more than two methods
        dealt = {folds[u] for u in folds if u.startswith(family + "/")}
        assert len(dealt) == min(3, len([u for u in folds if u.startswith(family + "/")]))


@pytest.mark.shared_data
@needs_shared
def test_every_fake_of_the_shared_manifest_is_in_a_family() -> None:
    rows = read_manifest(SHARED_DATA / "manifest.csv")
    counts = Counter(family_of(r) for r in rows if r.label == "fake" and r.kind == "video")
    assert set(counts) == set(FAMILIES)
    assert counts["lip_sync"] == 8 and counts["live_swap"] == 41
