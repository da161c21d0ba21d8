"""training.adapters on tiny fixture trees of each dataset layout (real mp4 files via PyAV)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import av
import numpy as np
import pytest

from realtime.errors import UserError
from tests.shared_data import SHARED_DATA, needs_shared
from training.adapters import (
    DatasetWarning,
    build_manifest,
    celebdf_rows,
    dfdc_rows,
    fakeavceleb_rows,
    ffpp_rows,
    folder_rows,
)
from training.manifest import ManifestRow, read_manifest

_TEMPLATE: dict[str, bytes] = {}


def _mp4(path: Path) -> Path:
    """A real 4-frame 32x32 H.264 file (encoded once, copied after)."""
    if "mp4" not in _TEMPLATE:
        first = path.with_suffix(".tmp.mp4")
        first.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(first), "w") as container:
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
            for i in range(4):
                frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        _TEMPLATE["mp4"] = first.read_bytes()
        first.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_TEMPLATE["mp4"])
    return path


def _by_name(rows: list[ManifestRow]) -> dict[str, ManifestRow]:
    return {r.abspath.name: r for r in rows}


def test_tiny_mp4_is_a_real_video(tmp_path: Path) -> None:
    path = _mp4(tmp_path / "v.mp4")
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4


def test_ffpp(tmp_path: Path) -> None:
    root = tmp_path / "ffpp"
    for vid in ("000", "001"):
        _mp4(root / "original_sequences/youtube/c23/videos" / f"{vid}.mp4")
    _mp4(root / "original_sequences/youtube/c40/videos/000.mp4")  # other compression: ignored
    _mp4(root / "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4")
    _mp4(root / "manipulated_sequences/Face2Face/c23/videos/002_006.mp4")  # original 002 absent
    _mp4(root / "original_sequences/actors/c23/videos/01__exit_phone_room.mp4")
    _mp4(root / "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__exit_phone_room__YVGY8LOK.mp4")
    (root / "manipulated_sequences/Deepfakes/masks/videos").mkdir(parents=True)

    rows = _by_name(ffpp_rows(root))
    assert len(rows) == 6
    assert {r.source for r in rows.values()} == {"ffpp_c23"}
    fake = rows["000_003.mp4"]
    assert (fake.label, fake.method, fake.identity, fake.pair_id) == (
        "fake",
        "Deepfakes",
        "ffpp_000",
        "ffpp_000",
    )
    assert (rows["000.mp4"].label, rows["000.mp4"].method, rows["000.mp4"].pair_id) == (
        "real",
        "none",
        "ffpp_000",
    )
    assert rows["001.mp4"].pair_id == ""  # no fake made from it here
    assert (rows["002_006.mp4"].identity, rows["002_006.mp4"].pair_id) == ("ffpp_002", "")
    dfd = rows["01_02__exit_phone_room__YVGY8LOK.mp4"]
    assert (dfd.method, dfd.identity) == ("DeepFakeDetection", "ffpp_actor_01")
    assert dfd.pair_id == rows["01__exit_phone_room.mp4"].pair_id != ""
    assert {r.path for r in ffpp_rows(root, compression="c40")} == {
        str(root / "original_sequences/youtube/c40/videos/000.mp4")
    }
    with pytest.raises(UserError, match="no 'raw' videos"):
        ffpp_rows(root, compression="raw")
    with pytest.raises(UserError, match="no FaceForensics"):
        ffpp_rows(tmp_path)


def test_dfdc_skips_missing_files_with_a_warning(tmp_path: Path) -> None:
    part = tmp_path / "dfdc_train_part_0"
    for name in ("real1.mp4", "fake1.mp4", "fake2.mp4"):
        _mp4(part / name)
    meta = {
        "real1.mp4": {"label": "REAL", "split": "train"},
        "fake1.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"},
        "fake2.mp4": {"label": "FAKE", "split": "train", "original": "elsewhere.mp4"},
        "gone.mp4": {"label": "FAKE", "split": "train", "original": "real1.mp4"},
    }
    (part / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(DatasetWarning, match="gone.mp4: listed in metadata.json but missing"):
        rows = _by_name(dfdc_rows(tmp_path))
    assert set(rows) == {"real1.mp4", "fake1.mp4", "fake2.mp4"}
    assert (rows["fake1.mp4"].label, rows["fake1.mp4"].identity, rows["fake1.mp4"].pair_id) == (
        "fake",
        "dfdc_real1",
        "dfdc_real1",
    )
    assert (rows["real1.mp4"].label, rows["real1.mp4"].method, rows["real1.mp4"].pair_id) == (
        "real",
        "none",
        "dfdc_real1",
    )
    assert (rows["fake2.mp4"].identity, rows["fake2.mp4"].pair_id, rows["fake2.mp4"].method) == (
        "dfdc_elsewhere",
        "",
        "dfdc",
    )
    (part / "metadata.json").write_text("{not json")
    with pytest.raises(UserError, match="not readable JSON"):
        dfdc_rows(tmp_path)


def test_celebdf(tmp_path: Path) -> None:
    root = tmp_path / "Celeb-DF-v2"
    for rel in (
        "Celeb-real/id0_0000.mp4",
        "Celeb-real/id1_0002.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4",
        "Celeb-synthesis/id1_id0_0005.mp4",
        "YouTube-real/00170.mp4",
    ):
        _mp4(root / rel)
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id1_id0_0005.mp4\n1 Celeb-real/id9_0001.mp4\n"
    )
    with pytest.warns(DatasetWarning, match="id9_0001.mp4: listed in List_of_testing_videos.txt but missing"):
        rows = _by_name(celebdf_rows(root))
    assert len(rows) == 5
    fake = rows["id0_id1_0000.mp4"]
    assert (fake.label, fake.identity, fake.pair_id, fake.split) == (
        "fake",
        "celebdf_id0",
        "celebdf_id0_0000",
        "",
    )
    assert rows["id0_0000.mp4"].pair_id == "celebdf_id0_0000" and rows["id0_0000.mp4"].label == "real"
    assert rows["id1_0002.mp4"].pair_id == ""
    assert (rows["00170.mp4"].label, rows["00170.mp4"].identity, rows["00170.mp4"].split) == (
        "real",
        "celebdf_yt_00170",
        "test",
    )
    assert rows["id1_id0_0005.mp4"].split == "test"
    (root / "List_of_testing_videos.txt").write_text("real YouTube-real/00170.mp4\n")
    with pytest.raises(UserError, match=r"List_of_testing_videos.txt:1: expected"):
        celebdf_rows(root)


def test_fakeavceleb(tmp_path: Path) -> None:
    root = tmp_path / "FakeAVCeleb_v1.2"
    header = ["source", "target1", "target2", "method", "category", "type", "race", "gender", "path", ""]
    entries = [
        ("id00076", "-", "-", "real", "A", "RealVideo-RealAudio", "00109.mp4"),
        ("id00076", "-", "-", "rtvc", "B", "RealVideo-FakeAudio", "00109_fake.mp4"),
        ("id00076", "id00476", "-", "faceswap", "C", "FakeVideo-RealAudio", "00109_10_id00476_faceswap.mp4"),
        ("id00076", "id00476", "-", "wav2lip", "D", "FakeVideo-FakeAudio", "00109_10_id00476_wavtolip.mp4"),
        ("id00166", "-", "-", "real", "A", "RealVideo-RealAudio", "00010.mp4"),
        ("id00166", "-", "-", "real", "A", "RealVideo-RealAudio", "00011.mp4"),  # not on disk
    ]
    root.mkdir()
    with (root / "meta_data.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for person, t1, t2, method, cat, vtype, name in entries:
            folder = f"FakeAVCeleb/{vtype}/African/men/{person}"
            writer.writerow([person, t1, t2, method, cat, vtype, "African", "men", name, folder])
            if name != "00011.mp4":
                _mp4(root / vtype / "African" / "men" / person / name)
    with pytest.warns(DatasetWarning, match="00011.mp4 missing"):
        rows = _by_name(fakeavceleb_rows(root))
    assert len(rows) == 5
    assert rows["00109_fake.mp4"].label == "real"  # fake audio, real face: real for a visual detector
    swap = rows["00109_10_id00476_faceswap.mp4"]
    assert (swap.label, swap.method, swap.identity, swap.pair_id) == (
        "fake",
        "faceswap",
        "fakeavceleb_id00076",
        "fakeavceleb_id00076_00109",
    )
    assert rows["00109.mp4"].pair_id == "fakeavceleb_id00076_00109"
    assert rows["00109_fake.mp4"].pair_id == ""
    assert rows["00010.mp4"].pair_id == "" and rows["00010.mp4"].identity == "fakeavceleb_id00166"


def test_folder_layout_videos_images_pairs(tmp_path: Path) -> None:
    root = tmp_path / "mycalls"
    _mp4(root / "real" / "Anna__0.mp4")
    _mp4(root / "fake" / "Anna__0.mp4")
    _mp4(root / "real" / "Bob__1.mp4")
    (root / "real" / "Carl").mkdir(parents=True)
    (root / "real" / "Carl" / "c1.jpg").write_bytes(b"\xff\xd8 not decoded by the adapter")
    (root / "real" / "notes.txt").write_text("ignored")
    rows = folder_rows(root)
    assert len(rows) == 4
    by = {(r.label, r.abspath.name): r for r in rows}
    assert by[("fake", "Anna__0.mp4")].pair_id == by[("real", "Anna__0.mp4")].pair_id == "mycalls_Anna__0"
    assert by[("fake", "Anna__0.mp4")].method == "mycalls" and by[("real", "Anna__0.mp4")].method == "none"
    assert by[("real", "c1.jpg")].kind == "image" and by[("real", "c1.jpg")].identity == "Carl"
    assert by[("real", "Bob__1.mp4")].identity == "Bob" and by[("real", "Bob__1.mp4")].pair_id == ""
    with pytest.raises(UserError, match="no videos or images"):
        folder_rows(tmp_path / "mycalls" / "real")


def test_build_manifest_writes_split_csv(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for i in range(10):
        _mp4(root / "real" / f"p{i}__0.mp4")
        _mp4(root / "fake" / f"p{i}__0.mp4")
    out = tmp_path / "m.csv"
    rows = build_manifest("folder", root, out)
    back = read_manifest(out)
    assert [r.path for r in back][0].startswith("data/")
    assert {r.split for r in back} == {"train", "val"}
    assert [(r.abspath, r.split) for r in back] == [(r.abspath, r.split) for r in rows]
    for i in range(10):  # a pair never straddles the split
        assert len({r.split for r in back if r.identity == f"p{i}"}) == 1


@pytest.mark.shared_data
@needs_shared
def test_shared_ffpp_dfdc_samples_parse_like_the_shared_manifest() -> None:
    expected = {r.abspath: r for r in read_manifest(SHARED_DATA / "manifest.csv")}
    root = SHARED_DATA / "ffpp_dfdc_samples"
    with pytest.warns(DatasetWarning, match="awnfpubqmo.mp4"):
        got = ffpp_rows(root / "ffpp_c23") + dfdc_rows(root / "dfdc")
    assert len(got) == 10
    for row in got:
        want = expected[row.abspath]
        assert (row.kind, row.label, row.source, row.identity, row.method, row.pair_id) == (
            want.kind,
            want.label,
            want.source,
            want.identity,
            want.method,
            want.pair_id,
        ), row.path


@pytest.mark.shared_data
@needs_shared
def test_shared_deepfacelive_parses_as_folder_layout() -> None:
    expected = {
        r.abspath: r for r in read_manifest(SHARED_DATA / "manifest.csv") if r.source == "deepfacelive"
    }
    got = folder_rows(SHARED_DATA / "deepfacelive")
    assert {r.abspath for r in got} == set(expected)
    for row in got:
        want = expected[row.abspath]
        assert (row.label, row.identity, row.method) == (want.label, want.identity, want.method)
        assert row.pair_id.removeprefix("deepfacelive_") == want.pair_id.removeprefix("dfl_")


def test_manifest_verb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from realtime.cli import main

    part = tmp_path / "dfdc" / "dfdc_train_part_3"
    _mp4(part / "a.mp4")
    (part / "metadata.json").write_text(
        json.dumps({"a.mp4": {"label": "REAL"}, "b.mp4": {"label": "FAKE", "original": "a.mp4"}})
    )
    out = tmp_path / "out" / "m.csv"
    assert main(["manifest", "dfdc", str(tmp_path / "dfdc"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning: skipped" in captured.err and "b.mp4" in captured.err
    assert "wrote" in captured.out
    rows = read_manifest(out)
    assert [(r.path, r.label, r.identity, r.split) for r in rows] == [
        ("../dfdc/dfdc_train_part_3/a.mp4", "real", "dfdc_a", "train")
    ]
    assert main(["manifest", "celebdf", str(tmp_path / "missing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
