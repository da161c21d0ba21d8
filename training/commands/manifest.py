"""``callshield manifest LAYOUT ROOT --out manifest.csv``: index a dataset in its standard layout.

The one place a downloaded dataset meets CallShield: after this, training and evaluation only
read the manifest (DESIGN.md, "Manifest").
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter
from pathlib import Path

from realtime.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from training.adapters import LAYOUTS

    parser.add_argument("layout", choices=sorted(LAYOUTS), help="the dataset's layout")
    parser.add_argument("root", type=Path, help="the dataset's root folder")
    parser.add_argument(
        "--out", type=Path, required=True, help="manifest CSV to write (paths relative to it)"
    )
    parser.add_argument("--source", default=None, help="source name for the rows (default: per layout)")
    parser.add_argument("--compression", default=None, help="ffpp only: c23, c40 or raw (default c23)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of rows per source in val")


def run(args: argparse.Namespace) -> int:
    from training.adapters import DatasetWarning, build_manifest

    if args.compression and args.layout != "ffpp":
        raise UserError("--compression applies to the ffpp layout only")
    if not 0.0 <= args.val_fraction < 1.0:
        raise UserError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    options = {"source": args.source, "compression": args.compression}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetWarning)
        rows = build_manifest(args.layout, args.root, args.out, args.val_fraction, **options)
    for w in caught:
        if issubclass(w.category, DatasetWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    counts = Counter((r.split, r.label) for r in rows)
    summary = ", ".join(f"{split} {label} {n}" for (split, label), n in sorted(counts.items()))
    print(f"wrote {args.out}: {len(rows)} rows ({summary})")
    return 0
