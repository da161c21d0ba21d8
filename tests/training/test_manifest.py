"""training.manifest: reading/writing the CSV, filters, and the identity-group split."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.errors import UserError
from tests.shared_data import SHARED_DATA, needs_shared
from training.manifest import (
    COLUMNS,
    ManifestRow,
    assign_splits,
    filter_rows,
    make_row,
    read_manifest,
    write_manifest,
)

HEADER = ",".join(COLUMNS)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_resolves_paths_against_the_manifest_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    m = _write(
        tmp_path / "sub" / "m.csv",
        f"{HEADER}\nclips/a.mp4,video,real,src,p1,none,,train\n../b.jpg,image,fake,src,p2,swap,pair1,val\n",
    )
    rows = read_manifest(m)
    assert [r.abspath for r in rows] == [tmp_path / "sub" / "clips" / "a.mp4", tmp_path / "b.jpg"]
    assert rows[1].is_fake and rows[1].target == 1 and rows[1].method == "swap" and rows[1].pair_id == "pair1"
    assert rows[0].target == 0 and rows[0].split == "train"


def test_read_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    m = _write(tmp_path / "cols.csv", "path,kind,label\na.mp4,video,real\n")
    with pytest.raises(UserError, match="missing column.*source"):
        read_manifest(m)
    m = _write(
        tmp_path / "label.csv",
        f"{HEADER}\na.mp4,video,real,s,i,none,,train\nb.mp4,video,FAKE!,s,i,x,,train\n",
    )
    with pytest.raises(UserError, match=r"label\.csv:3: label must be 'real' or 'fake'"):
        read_manifest(m)
    m = _write(tmp_path / "kind.csv", f"{HEADER}\na.txt,text,real,s,i,none,,train\n")
    with pytest.raises(UserError, match=r"kind\.csv:2: kind must be"):
        read_manifest(m)


def test_write_is_relative_to_output_and_round_trips(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "real").mkdir(parents=True)
    rows = [
        make_row(data / "real" / "x.mp4", label="real", source="s", identity="x"),
        make_row(data / "fake.png", label="fake", source="s", identity="y", method="swap", pair_id="p"),
    ]
    out = tmp_path / "out" / "m.csv"
    write_manifest(rows, out)
    with out.open(newline="") as fh:
        written = list(csv.reader(fh))
    assert written[0] == list(COLUMNS)
    assert written[1][:3] == ["../data/real/x.mp4", "video", "real"]
    assert written[2][:7] == ["../data/fake.png", "image", "fake", "s", "y", "swap", "p"]
    back = read_manifest(out)
    assert [r.abspath.resolve() for r in back] == [r.abspath for r in rows]
    assert [r.identity for r in back] == ["x", "y"]
    assert not [p for p in out.parent.iterdir() if p.name != "m.csv"], "temp file left behind"


def test_write_failure_keeps_the_old_file(tmp_path: Path) -> None:
    out = _write(tmp_path / "m.csv", f"{HEADER}\nold.mp4,video,real,s,i,none,,train\n")

    good = make_row(tmp_path / "a.mp4", label="real", source="s", identity="a")

    def rows_then_crash() -> Iterator[ManifestRow]:
        yield good
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_manifest(rows_then_crash(), out)
    assert out.read_text().splitlines()[1].startswith("old.mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_filters() -> None:
    rows = [
        ManifestRow("a", "video", "real", "s1", "i", split="train"),
        ManifestRow("b", "image", "fake", "s2", "j", "m", split="val"),
        ManifestRow("c", "video", "fake", "s2", "k", "m", split="val"),
    ]
    assert [r.path for r in filter_rows(rows, split="val", kind="video")] == ["c"]
    assert [r.path for r in filter_rows(rows, source=["s1", "s2"], label="fake")] == ["b", "c"]
    assert filter_rows(rows) == rows


def _synthetic(n_groups: int, sizes: list[int], source: str = "s") -> list[ManifestRow]:
    rows = []
    for g in range(n_groups):
        for k in range(sizes[g % len(sizes)]):
            rows.append(ManifestRow(f"{source}/{g}_{k}.mp4", "video", "real", source, f"{source}_person{g}"))
    return rows


def test_split_properties_on_synthetic_groups() -> None:
    rows = _synthetic(200, [1, 2, 3]) + _synthetic(30, [4], source="other")
    out = assign_splits(rows)
    again = assign_splits(list(reversed(rows)))
    assert {r.path: r.split for r in out} == {r.path: r.split for r in again}, "order-dependent split"
    sides: dict[str, set[str]] = defaultdict(set)
    for r in out:
        sides[r.identity].add(r.split)
    assert all(len(s) == 1 for s in sides.values()), "an identity on both sides"
    for source in ("s", "other"):
        src = [r for r in out if r.source == source]
        share = sum(r.split == "val" for r in src) / len(src)
        assert 0.15 <= share <= 0.2 * 1.3, (source, share)


def test_split_group_of_keeps_linked_identities_together() -> None:
    rows = _synthetic(40, [1])
    group = {f"s_person{g}": "shared" for g in range(0, 40, 4)}  # 10 identities share footage
    out = assign_splits(rows, group_of=group)
    assert len({r.split for r in out if r.identity in group}) == 1


def test_split_small_source_still_gets_val_but_keeps_train() -> None:
    # three pairs (FF++-like): every group is bigger than 1.3 x 20 %, the first still goes to val
    rows = _synthetic(3, [2])
    counts = Counter(r.split for r in assign_splits(rows))
    assert counts == {"train": 4, "val": 2}
    single = assign_splits(_synthetic(1, [3]))
    assert {r.split for r in single} == {"train"}


# ../shared/data/README.md, "How the split is made": rows counted per line of its table.
README_SPLIT_TABLE = {
    "deepfacelive": [32, 32, 9, 9],
    "ffpp_c23": [2, 3, 1, 1],
    "dfdc": [2, 2, 0, 2],
    "grid": [9, 0, 2, 0],
    "liveportrait": [15, 0, 3, 0],
    "lfw": [1532, 0, 383, 0],
    "swaps/": [13, 12, 4, 4],
    "talking/": [36, 41, 10, 10],
    "academic/ ffpp_c23": [25, 47, 13, 21],
    "academic/ celebdf": [4, 7, 3, 0],
    "academic/ dfdc": [11, 12, 0, 1],
    "academic/ ffpp_c40, ffpp_unknown": [18, 16, 0, 0],
}


def _readme_table_row(row: ManifestRow) -> str:
    """The line of the README's split table a manifest row is counted in."""
    folder = row.path.split("/")[0]
    if folder in ("swaps", "talking"):
        return f"{folder}/"
    if folder == "academic":
        return (
            "academic/ ffpp_c40, ffpp_unknown"
            if row.source.startswith("ffpp_") and row.source != "ffpp_c23"
            else f"academic/ {row.source}"
        )
    return row.source


@pytest.mark.shared_data
@needs_shared
def test_split_reproduces_shared_manifest() -> None:
    """The shared manifest was split by this rule: recomputing it gives the same column for every
    source whose groups are plain identities or the README's shared-footage folders (ffpp, dfdc and
    liveportrait carry cross-source and pinned links that the README only partly states), and every
    line of the README's split table (train/val, real/fake rows per folder) holds."""
    rows = read_manifest(SHARED_DATA / "manifest.csv")
    shared_footage = {
        **dict.fromkeys(("Ava_de_Addario", "Kim_Jarrey", "Tim_Chrys"), "Ava_de_Addario+Kim_Jarrey+Tim_Chrys"),
        **dict.fromkeys(
            ("Emily_Winston", "Natasha_Former", "Yohanna_Coralson"),
            "Emily_Winston+Natasha_Former+Yohanna_Coralson",
        ),
    }
    recomputed = assign_splits(rows, 0.2, group_of=shared_footage)
    for source in ("deepfacelive", "grid", "lfw"):
        want = [r.split for r in rows if r.source == source]
        got = [r.split for r in recomputed if r.source == source]
        assert got == want, source
    # the README's split table, row by row: (train real, train fake, val real, val fake) per folder
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        counts[_readme_table_row(r)][(2 if r.split == "val" else 0) + (r.label == "fake")] += 1
    assert dict(counts) == README_SPLIT_TABLE
    sides: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        sides[r.identity].add(r.split)
    assert all(len(s) == 1 for s in sides.values())
