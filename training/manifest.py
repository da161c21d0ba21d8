"""The dataset manifest: one CSV row per video or image, the single way code finds training data.

Format (DESIGN.md, "Manifest"): ``path,kind,label,source,identity,method,pair_id,split`` with
``path`` relative to the manifest's own folder, so a dataset folder can be moved or mounted
elsewhere without rewriting its manifest. Reading resolves every path to an absolute one once, so
nothing downstream has to know where the manifest lived.

The train/val split is made by identity group (never by file), so the same person never appears
on both sides; :func:`assign_splits` is the deterministic rule of ``shared/data/README.md``.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from realtime.atomic import atomic_path
from realtime.errors import InputError, UserError

COLUMNS: tuple[str, ...] = ("path", "kind", "label", "source", "identity", "method", "pair_id", "split")
KINDS = ("video", "image")
LABELS = ("real", "fake")
SPLITS = ("train", "val", "test", "")
REAL_METHOD = "none"

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


@dataclass(frozen=True)
class ManifestRow:
    """One file of a dataset. ``abspath`` is ``path`` resolved against the manifest's folder."""

    path: str
    kind: str
    label: str
    source: str
    identity: str
    method: str = REAL_METHOD
    pair_id: str = ""
    split: str = ""
    abspath: Path = field(default=Path(), compare=False)

    @property
    def is_fake(self) -> bool:
        return self.label == "fake"

    @property
    def target(self) -> int:
        """1 for fake, 0 for real: the detector's positive class is 'fake'."""
        return 1 if self.label == "fake" else 0


def kind_of(path: str | Path) -> str | None:
    """'video', 'image' or None, from the file suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return None


def make_row(
    abspath: Path,
    *,
    label: str,
    source: str,
    identity: str,
    method: str = REAL_METHOD,
    pair_id: str = "",
    kind: str | None = None,
) -> ManifestRow:
    """A row for a file on disk (adapters use this; ``path`` is set relative when written)."""
    abspath = Path(abspath).resolve()
    return ManifestRow(
        path=abspath.as_posix(),
        kind=kind or kind_of(abspath) or "video",
        label=label,
        source=source,
        identity=identity,
        method=method if label == "fake" else REAL_METHOD,
        pair_id=pair_id,
        split="",
        abspath=abspath,
    )


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a manifest CSV; every problem is one :class:`UserError` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    base = path.resolve().parent
    rows: list[ManifestRow] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise InputError(
                    f"{path}: missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})"
                )
            for record in reader:
                line = reader.line_num
                rows.append(_parse_record(record, base, f"{path}:{line}"))
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a UTF-8 CSV manifest") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None
    return rows


def _parse_record(record: Mapping[str, str | None], base: Path, where: str) -> ManifestRow:
    values = {c: (record.get(c) or "").strip() for c in COLUMNS}
    if not values["path"]:
        raise InputError(f"{where}: empty path")
    if values["label"] not in LABELS:
        raise InputError(f"{where}: label must be 'real' or 'fake', got {values['label']!r}")
    if values["kind"] not in KINDS:
        raise InputError(f"{where}: kind must be 'video' or 'image', got {values['kind']!r}")
    if not values["source"]:
        raise InputError(f"{where}: empty source")
    if not values["method"]:
        values["method"] = REAL_METHOD if values["label"] == "real" else "unknown"
    abspath = Path(values["path"])
    if not abspath.is_absolute():
        abspath = Path(os.path.normpath(base / abspath))
    return ManifestRow(**values, abspath=abspath)


def write_manifest(rows: Iterable[ManifestRow], path: str | Path) -> Path:
    """Write ``rows`` to ``path`` atomically, paths relative to the output folder.

    A crash mid-write leaves the old file (or none), never half a manifest: the CSV goes to a
    temporary file in the same folder and is renamed over the target.
    """
    path = Path(path)
    out_dir = path.resolve().parent
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_relative_path(row, out_dir), *(getattr(row, c) for c in COLUMNS[1:])])
    return path


def _relative_path(row: ManifestRow, out_dir: Path) -> str:
    target = row.abspath if row.abspath != Path() else Path(row.path)
    if not target.is_absolute():
        return target.as_posix()
    return Path(os.path.relpath(target, out_dir)).as_posix()


def filter_rows(
    rows: Iterable[ManifestRow],
    *,
    split: str | Sequence[str] | None = None,
    kind: str | Sequence[str] | None = None,
    source: str | Sequence[str] | None = None,
    label: str | None = None,
) -> list[ManifestRow]:
    """Rows matching every given criterion (a string or a list of accepted values)."""

    def accept(value: str, wanted: str | Sequence[str] | None) -> bool:
        if wanted is None:
            return True
        return value == wanted if isinstance(wanted, str) else value in wanted

    return [
        r
        for r in rows
        if accept(r.split, split)
        and accept(r.kind, kind)
        and accept(r.source, source)
        and accept(r.label, label)
    ]


def group_sort_key(source: str, group: str) -> str:
    """The order in which identity groups are offered to ``val``: SHA-1 of ``"<source>:<group>"``.

    Hashing makes the order arbitrary but stable across machines and Python versions (unlike
    ``hash()``); this key reproduces the split column of ``shared/data/manifest.csv``.
    """
    return hashlib.sha1(f"{source}:{group}".encode()).hexdigest()


def assign_splits(
    rows: Sequence[ManifestRow],
    val_fraction: float = 0.2,
    *,
    group_of: Callable[[ManifestRow], str] | Mapping[str, str] | None = None,
    overshoot: float = 1.3,
) -> list[ManifestRow]:
    """Rows with ``split`` set to 'train' or 'val' by identity group, deterministically.

    Per source, groups are taken in :func:`group_sort_key` order and moved to val until val holds
    ``val_fraction`` of that source's rows; a group that would push val past ``overshoot`` times
    that share is skipped (except as the very first group, so a source made only of big groups,
    such as FF++ pairs, still gets a val side, as long as something stays in train).

    ``group_of`` maps a row (or its identity, when a dict) to its group name: identities that
    share footage or a person must share a group, or the split leaks. Default: the identity.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction}")

    def group(row: ManifestRow) -> str:
        if group_of is None:
            return row.identity
        if callable(group_of):
            return group_of(row)
        return group_of.get(row.identity, row.identity)

    by_source: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for index, row in enumerate(rows):
        by_source[row.source][group(row)].append(index)

    val_indices: set[int] = set()
    for source, groups in by_source.items():
        total = sum(len(members) for members in groups.values())
        target = val_fraction * total
        cap = overshoot * target
        taken = 0
        for name in sorted(groups, key=lambda g: group_sort_key(source, g)):
            if taken >= target:
                break
            size = len(groups[name])
            first_and_leaves_train = taken == 0 and size < total
            if taken + size > cap and not first_and_leaves_train:
                continue
            if target <= 0:
                break
            val_indices.update(groups[name])
            taken += size
    return [replace(row, split="val" if i in val_indices else "train") for i, row in enumerate(rows)]
