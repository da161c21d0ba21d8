"""Which train identities are held out: the calibration draw and the cross-validation folds."""

from __future__ import annotations

from training.clips import family_footage, heldout_fakes, heldout_identities, holdout_identity
from training.config import DataConfig
from training.manifest import ManifestRow


def _rows() -> list[ManifestRow]:
    rows = []
    # a big group of three face models on the same footage (4 pairs each), and 9 single pairs
    for name in ["ava", "kim", "tim"]:
        for n in range(4):
            for label in ("real", "fake"):
                rows.append(
                    ManifestRow(f"dfl/{label}/{name}{n}.mp4", "video", label, "dfl", name, split="train")
                )
    for i in range(9):
        for label in ("real", "fake"):
            rows.append(
                ManifestRow(f"dfl/{label}/solo{i}.mp4", "video", label, "dfl", f"solo{i}", split="train")
            )
    rows += [ManifestRow(f"grid/{i}.mp4", "video", "real", "grid", f"g{i}", split="train") for i in range(6)]
    rows += [ManifestRow(f"lfw/{i}.jpg", "image", "real", "lfw", f"l{i}", split="train") for i in range(30)]
    return rows


def test_folds_partition_video_identities_with_groups_together_and_balanced() -> None:
    rows = _rows()
    groups = [["ava", "kim", "tim"]]
    folds = [
        heldout_identities(rows, DataConfig(calib_folds=3, calib_fold=f, identity_groups=groups))
        for f in range(3)
    ]
    video_ids = {r.identity for r in rows if r.kind == "video"}
    assert set().union(*folds) == video_ids  # every video identity held out once ...
    assert sum(len(f) for f in folds) == len(video_ids)  # ... and only once
    for fold in folds:
        assert len(fold & {"ava", "kim", "tim"}) in (0, 3)
        assert sum(1 for r in rows if r.identity in fold and r.source == "grid") == 2
    live = [sum(1 for r in rows if r.identity in fold and r.source == "dfl") for fold in folds]
    # 42 live-swap videos: the group's 24 fill one fold, the 9 single pairs go to the other two
    assert sorted(live) == [8, 10, 24]
    assert not any(i.startswith("l") for f in folds for i in f)  # stills stay in training


def test_without_folds_the_calibration_draw_is_unchanged() -> None:
    rows = _rows()
    data = DataConfig(calib_fraction=0.3, identity_groups=[["ava", "kim", "tim"]])
    expected = {r.identity for r in rows if holdout_identity(r.identity, 0.3, data.identity_groups)}
    assert heldout_identities(rows, data) == expected
    assert 0 < len(expected) < len({r.identity for r in rows})


def test_family_footage_is_the_fakes_people_and_what_their_pairs_link() -> None:
    rows = [
        ManifestRow("talking/x/fake/a.mp4", "video", "fake", "x", "statue", "sadtalker", "drive1", "train"),
        ManifestRow("talking/x/real/d.mp4", "video", "real", "x", "driver", "none", "drive1", "train"),
        ManifestRow("talking/x/real/o.mp4", "video", "real", "x", "someone", "none", "", "train"),
        ManifestRow(
            "deepfacelive/fake/k.mp4", "video", "fake", "deepfacelive", "kim", "deepfacelive", "p", "train"
        ),
    ]
    groups = [["ava", "kim"]]
    assert family_footage(rows, "animation", groups) == {"statue", "driver"}
    assert family_footage(rows, "live_swap", groups) == {"ava+kim"}
    assert family_footage(rows, "lip_sync", groups) == set()


def test_a_method_fold_holds_out_its_methods_fakes_and_no_others() -> None:
    rows = [
        ManifestRow(f"talking/g{k}/fake/a.mp4", "video", "fake", f"g{k}", f"p{k}", "gen", "", "train")
        for k in range(3)
    ] + [ManifestRow("talking/g0/real/a.mp4", "video", "real", "g0", "p0", "none", "", "train")]
    held = [
        {r.source for r in heldout_fakes(rows, DataConfig(holdout_method_fold=k, method_folds=3))}
        for k in range(3)
    ]
    assert sorted(len(h) for h in held) == [1, 1, 1] and set().union(*held) == {"g0", "g1", "g2"}
    assert heldout_fakes(rows, DataConfig()) == []  # the shipped model holds nothing out
