"""Adapters from the standard layouts of public deepfake datasets to manifest rows.

Every dataset ships its labels differently (folder names, a JSON per part, a text list, a CSV);
turning each into the one manifest format here means training and evaluation never learn about
any of them. Each adapter returns rows with absolute paths and an empty split;
:func:`build_manifest` assigns the identity-group split and writes the CSV.

Identity is what the split groups on: the person whose footage a file shows, with a fake filed
under its *target* video (the footage it was made from), so a fake and its original always land
on the same side. ``pair_id`` links a real video to the fakes made from it when both are present.

Files a dataset lists but that are missing on disk are skipped with a :class:`DatasetWarning`
(one per file), never an error: partial downloads are the norm for these datasets.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from realtime.errors import InputError, UserError
from training.manifest import ManifestRow, assign_splits, kind_of, make_row, write_manifest


class DatasetWarning(UserWarning):
    """A dataset file that is listed but missing, or unreadable metadata entry: skipped."""


def _warn(message: str) -> None:
    warnings.warn(message, DatasetWarning, stacklevel=3)


def _require_dir(root: Path, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{what} root is not a folder: {root}")
    return root.resolve()


def _videos_in(folder: Path) -> list[Path]:
    return (
        sorted(p for p in folder.iterdir() if p.is_file() and kind_of(p) == "video")
        if folder.is_dir()
        else []
    )


# --------------------------------------------------------------------------------------------
# FaceForensics++
# --------------------------------------------------------------------------------------------

FFPP_ORIGINAL_KINDS = ("youtube", "actors")
_FFPP_PAIR = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)$")
# DeepFakeDetection (Google/Jigsaw) inside FF++: 01_02__exit_phone_room__YVGY8LOK
_FFPP_DFD_FAKE = re.compile(r"^(?P<target>\d+)_(?P<source>\d+)__(?P<scene>.+?)__[A-Za-z0-9]+$")
_FFPP_DFD_REAL = re.compile(r"^(?P<actor>\d+)__(?P<scene>.+)$")


def ffpp_rows(
    root: str | Path, compression: str | None = None, source: str | None = None
) -> list[ManifestRow]:
    """FaceForensics++ (and its DeepFakeDetection part) in the official download layout.

    ``original_sequences/<youtube|actors>/<comp>/videos/<id>.mp4`` and
    ``manipulated_sequences/<Method>/<comp>/videos/<target>_<source>.mp4``. ``compression`` picks
    one of c23/c40/raw; by default c23 when present, else the only one there. ``source`` defaults
    to ``ffpp_<comp>`` (the name used in shared/data/manifest.csv).
    """
    root = _require_dir(Path(root), "FaceForensics++")
    comps = sorted({p.parent.name for p in root.glob("*_sequences/*/*/videos") if p.is_dir()})
    if not comps:
        raise InputError(
            f"{root} has no FaceForensics++ videos "
            "(expected original_sequences/<youtube|actors>/<comp>/videos/ or manipulated_sequences/...)"
        )
    if compression is None:
        if "c23" in comps:
            compression = "c23"
        elif len(comps) == 1:
            compression = comps[0]
        else:
            raise UserError(f"{root} holds several compressions ({', '.join(comps)}): choose one")
    elif compression not in comps:
        raise InputError(f"{root} has no '{compression}' videos (found: {', '.join(comps)})")
    source = source or f"ffpp_{compression}"

    reals: dict[str, tuple[Path, str]] = {}  # pair key -> (file, identity)
    for kind in FFPP_ORIGINAL_KINDS:
        for video in _videos_in(root / "original_sequences" / kind / compression / "videos"):
            if kind == "youtube":
                reals[video.stem] = (video, f"ffpp_{video.stem}")
            else:
                match = _FFPP_DFD_REAL.match(video.stem)
                actor = match.group("actor") if match else video.stem
                reals[f"actor_{video.stem}"] = (video, f"ffpp_actor_{actor}")

    fakes: list[tuple[Path, str, str, str]] = []  # file, method, identity, pair key
    manipulated = root / "manipulated_sequences"
    methods = sorted(p.name for p in manipulated.iterdir() if p.is_dir()) if manipulated.is_dir() else []
    for method in methods:
        for video in _videos_in(manipulated / method / compression / "videos"):
            dfd = _FFPP_DFD_FAKE.match(video.stem)
            pair = _FFPP_PAIR.match(video.stem)
            if dfd:
                key = f"actor_{dfd.group('target')}__{dfd.group('scene')}"
                fakes.append((video, method, f"ffpp_actor_{dfd.group('target')}", key))
            elif pair:
                target = pair.group("target")
                fakes.append((video, method, f"ffpp_{target}", target))
            else:
                _warn(f"skipped {video}: name is not <target>_<source> as FaceForensics++ names fakes")

    paired = {key for _, _, _, key in fakes if key in reals}
    rows: list[ManifestRow] = []
    for video, method, identity, key in fakes:
        pair_id = f"ffpp_{key}" if key in paired else ""
        rows.append(
            make_row(video, label="fake", source=source, identity=identity, method=method, pair_id=pair_id)
        )
    for key, (video, identity) in reals.items():
        pair_id = f"ffpp_{key}" if key in paired else ""
        rows.append(make_row(video, label="real", source=source, identity=identity, pair_id=pair_id))
    return sorted(rows, key=lambda r: r.path)


# --------------------------------------------------------------------------------------------
# DFDC
# --------------------------------------------------------------------------------------------


def dfdc_rows(root: str | Path, source: str = "dfdc") -> list[ManifestRow]:
    """DFDC training parts: each ``dfdc_train_part_<k>/metadata.json`` maps a file name to
    ``{"label": "REAL"|"FAKE", "original": "<real>.mp4"}``. Files listed but absent are skipped
    with a warning. Identity is ``dfdc_<original video id>`` (a real video is its own original).
    """
    root = _require_dir(Path(root), "DFDC")
    metadata_files = sorted(root.rglob("metadata.json"))
    if not metadata_files:
        raise InputError(f"{root} has no DFDC metadata.json (expected dfdc_train_part_<k>/metadata.json)")

    entries: list[tuple[Path, str, str]] = []  # file, label, original stem
    for meta_path in metadata_files:
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{meta_path} is not readable JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise InputError(f"{meta_path}: expected a JSON object of file -> {{label, original}}")
        for name, info in sorted(meta.items()):
            label = str(info.get("label", "")).upper() if isinstance(info, dict) else ""
            if label not in ("REAL", "FAKE"):
                _warn(f"skipped {meta_path.parent / name}: label {label or '(none)'} is not REAL or FAKE")
                continue
            video = meta_path.parent / name
            if not video.is_file():
                _warn(f"skipped {video}: listed in {meta_path.name} but missing")
                continue
            original = info.get("original") if label == "FAKE" else None
            original_stem = Path(original).stem if original else video.stem
            entries.append((video, label.lower(), original_stem))

    present_reals = {video.stem for video, label, _ in entries if label == "real"}
    fake_originals = {orig for _, label, orig in entries if label == "fake"}
    rows = []
    for video, label, original_stem in entries:
        paired = original_stem in present_reals and original_stem in fake_originals
        rows.append(
            make_row(
                video,
                label=label,
                source=source,
                identity=f"dfdc_{original_stem}",
                method="dfdc",
                pair_id=f"dfdc_{original_stem}" if paired else "",
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# Celeb-DF (v2)
# --------------------------------------------------------------------------------------------

CELEBDF_FOLDERS = {"Celeb-real": "real", "YouTube-real": "real", "Celeb-synthesis": "fake"}
CELEBDF_TEST_LIST = "List_of_testing_videos.txt"
_CELEB_REAL = re.compile(r"^id(?P<id>\d+)_(?P<clip>\d+)$")
_CELEB_FAKE = re.compile(r"^id(?P<target>\d+)_id(?P<source>\d+)_(?P<clip>\d+)$")


def celebdf_rows(root: str | Path, source: str = "celebdf") -> list[ManifestRow]:
    """Celeb-DF v2: ``Celeb-real/id<N>_<clip>.mp4``, ``Celeb-synthesis/id<T>_id<S>_<clip>.mp4``
    (target T's clip with S's face), ``YouTube-real/<n>.mp4``, and ``List_of_testing_videos.txt``
    (``<1=real|0=fake> <relpath>``). Listed videos get split ``test`` (the official benchmark set,
    kept out of train/val); a listed file that is missing is skipped with a warning.
    """
    root = _require_dir(Path(root), "Celeb-DF")
    test_list = root / CELEBDF_TEST_LIST
    listed: dict[str, str] = {}
    if test_list.is_file():
        for number, line in enumerate(test_list.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2 or parts[0] not in ("0", "1"):
                raise InputError(
                    f"{test_list}:{number}: expected '<1|0> <relative path>', got {line.strip()!r}"
                )
            listed[Path(parts[1].strip()).as_posix()] = "real" if parts[0] == "1" else "fake"

    files: dict[str, str] = {}  # relpath -> label
    for folder, label in CELEBDF_FOLDERS.items():
        for video in _videos_in(root / folder):
            files[video.relative_to(root).as_posix()] = label
    for rel, label in listed.items():
        if rel not in files:
            if (root / rel).is_file():
                files[rel] = label
            else:
                _warn(f"skipped {root / rel}: listed in {CELEBDF_TEST_LIST} but missing")
    if not files:
        raise InputError(f"{root} has no Celeb-DF videos (expected {', '.join(CELEBDF_FOLDERS)} folders)")

    real_keys = set()
    for rel in files:
        match = _CELEB_REAL.match(Path(rel).stem)
        if match and rel.startswith("Celeb-real/"):
            real_keys.add((match.group("id"), match.group("clip")))
    fake_keys = set()
    for rel in files:
        match = _CELEB_FAKE.match(Path(rel).stem)
        if match:
            fake_keys.add((match.group("target"), match.group("clip")))
    paired = real_keys & fake_keys

    rows = []
    for rel, folder_label in sorted(files.items()):
        stem = Path(rel).stem
        label = folder_label
        if rel in listed and listed[rel] != folder_label:
            _warn(
                f"{rel}: {CELEBDF_TEST_LIST} says {listed[rel]}, folder says {folder_label}; using the list"
            )
            label = listed[rel]
        fake_match, real_match = _CELEB_FAKE.match(stem), _CELEB_REAL.match(stem)
        pair_id = ""
        if fake_match:
            identity = f"celebdf_id{fake_match.group('target')}"
            key = (fake_match.group("target"), fake_match.group("clip"))
            pair_id = f"celebdf_id{key[0]}_{key[1]}" if key in paired else ""
        elif real_match and rel.startswith("Celeb-real/"):
            identity = f"celebdf_id{real_match.group('id')}"
            key = (real_match.group("id"), real_match.group("clip"))
            pair_id = f"celebdf_id{key[0]}_{key[1]}" if key in paired else ""
        elif rel.startswith("YouTube-real/"):
            identity = f"celebdf_yt_{stem}"
        else:
            identity = f"celebdf_{stem}"
        row = make_row(
            root / rel, label=label, source=source, identity=identity, method="celebdf", pair_id=pair_id
        )
        if rel in listed:
            row = replace(row, split="test")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# FakeAVCeleb
# --------------------------------------------------------------------------------------------

FAKEAVCELEB_META = "meta_data.csv"


def fakeavceleb_rows(root: str | Path, source: str = "fakeavceleb") -> list[ManifestRow]:
    """FakeAVCeleb v1.2 from its ``meta_data.csv``.

    Columns ``source,target1,target2,method,category,type,race,gender,path`` plus an unnamed last
    column with the folder (``FakeAVCeleb/<type>/<race>/<gender>/<id>``); ``path`` is the file
    name. The detector is visual, so the label follows the *video* half of ``type``
    (``RealVideo-FakeAudio`` is a real face). Identity is the source person
    (``fakeavceleb_<id>``); a fake pairs with the real clip it starts from (its first name token).
    """
    root = _require_dir(Path(root), "FakeAVCeleb")
    meta_path = root / FAKEAVCELEB_META
    if not meta_path.is_file():
        candidates = sorted(root.rglob(FAKEAVCELEB_META))
        if not candidates:
            raise InputError(f"{root} has no {FAKEAVCELEB_META}")
        meta_path = candidates[0]
    base = meta_path.parent

    with meta_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{meta_path} is empty")
        names = [h.strip() for h in header]
        required = ("source", "method", "type", "path")
        missing = [c for c in required if c not in names]
        if missing:
            raise InputError(f"{meta_path}: missing column(s) {', '.join(missing)}")
        folder_col = names.index("") if "" in names else (len(names) if len(names) == 9 else None)
        entries = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            line = reader.line_num
            values = {name: (record[i].strip() if i < len(record) else "") for i, name in enumerate(names)}
            folder = record[folder_col].strip() if folder_col is not None and folder_col < len(record) else ""
            video = _fakeavceleb_file(base, folder, values["path"])
            if video is None:
                _warn(f"skipped {meta_path}:{line}: file {folder}/{values['path']} missing")
                continue
            video_type = values["type"]
            label = "fake" if video_type.lower().startswith("fakevideo") else "real"
            entries.append((video, label, values["source"], values["method"], video_type))

    # real clip key: (person, clip stem) in RealVideo-RealAudio
    real_keys = {(person, v.stem) for v, label, person, _, t in entries if t == "RealVideo-RealAudio"}
    fake_keys = {(person, v.stem.split("_", 1)[0]) for v, label, person, _, _ in entries if label == "fake"}
    paired = real_keys & fake_keys
    rows = []
    for video, label, person, method, video_type in entries:
        clip = video.stem.split("_", 1)[0]
        key = (person, clip)
        is_pair_member = label == "fake" or video_type == "RealVideo-RealAudio"
        pair_id = f"fakeavceleb_{person}_{clip}" if key in paired and is_pair_member else ""
        rows.append(
            make_row(
                video,
                label=label,
                source=source,
                identity=f"fakeavceleb_{person}",
                method=method if label == "fake" else "none",
                pair_id=pair_id,
            )
        )
    return rows


def _fakeavceleb_file(base: Path, folder: str, name: str) -> Path | None:
    """The file for one metadata row; the folder column starts with ``FakeAVCeleb/`` in the
    release, which may or may not be the extracted root's own name."""
    folder_path = Path(folder)
    candidates = [base / folder_path / name]
    if folder_path.parts and folder_path.parts[0].lower().startswith("fakeavceleb"):
        candidates.append(base.joinpath(*folder_path.parts[1:]) / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


# --------------------------------------------------------------------------------------------
# Plain real/ fake/ folders
# --------------------------------------------------------------------------------------------


def folder_rows(root: str | Path, source: str | None = None) -> list[ManifestRow]:
    """``<root>/real/**`` and ``<root>/fake/**`` videos and images.

    Identity: the first sub-folder under real/ or fake/ when files are nested (``real/<person>/``),
    else the file stem up to a ``__`` (``Celeb__3.mp4`` -> ``Celeb``), so numbered clips of one
    person group together. A file with the same relative path under both real/ and fake/ is a
    pair (the DeepFaceLive halves in shared/data). Fakes get method = ``source``.
    """
    root = _require_dir(Path(root), "dataset")
    source = source or root.name
    by_label: dict[str, dict[str, Path]] = {}
    for label in ("real", "fake"):
        folder = root / label
        found = sorted(p for p in folder.rglob("*") if p.is_file() and kind_of(p)) if folder.is_dir() else []
        by_label[label] = {p.relative_to(folder).as_posix(): p for p in found}
    if not by_label["real"] and not by_label["fake"]:
        raise InputError(f"{root} has no videos or images under real/ or fake/")
    paired = set(by_label["real"]) & set(by_label["fake"])
    rows = []
    for label, files in by_label.items():
        for rel, path in files.items():
            parts = Path(rel).parts
            identity = parts[0] if len(parts) > 1 else path.stem.split("__", 1)[0]
            pair_id = f"{source}_{Path(rel).with_suffix('').as_posix()}" if rel in paired else ""
            rows.append(
                make_row(path, label=label, source=source, identity=identity, method=source, pair_id=pair_id)
            )
    return rows


# --------------------------------------------------------------------------------------------

LAYOUTS: dict[str, Callable[..., list[ManifestRow]]] = {
    "ffpp": ffpp_rows,
    "dfdc": dfdc_rows,
    "celebdf": celebdf_rows,
    "fakeavceleb": fakeavceleb_rows,
    "folder": folder_rows,
}


def rows_for(layout: str, root: str | Path, **options: object) -> list[ManifestRow]:
    """Rows of ``root`` read as ``layout`` (one of :data:`LAYOUTS`)."""
    if layout not in LAYOUTS:
        raise UserError(f"unknown dataset layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    return LAYOUTS[layout](root, **{k: v for k, v in options.items() if v is not None})


def split_keeping_test(rows: Iterable[ManifestRow], val_fraction: float = 0.2) -> list[ManifestRow]:
    """Assign train/val to every row not already marked ``test`` (official test lists stay put)."""
    rows = list(rows)
    test = [r for r in rows if r.split == "test"]
    rest = assign_splits([r for r in rows if r.split != "test"], val_fraction)
    return sorted(rest + test, key=lambda r: r.path)


def build_manifest(
    layout: str, root: str | Path, out: str | Path, val_fraction: float = 0.2, **options: object
) -> list[ManifestRow]:
    """Read ``root`` as ``layout``, assign splits and write the manifest to ``out`` atomically."""
    rows = rows_for(layout, root, **options)
    if not rows:
        raise InputError(f"no usable files found in {root} as a {layout} dataset")
    rows = split_keeping_test(rows, val_fraction)
    write_manifest(rows, out)
    return rows
