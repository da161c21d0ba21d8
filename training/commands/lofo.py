"""``callshield lofo CONFIG.yaml --out DIR [key=value ...]``: the leave-one-method-out and
leave-one-family-out benchmarks (:mod:`training.lofo`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", help="YAML training config of the recipe (e.g. training/configs/callshield_v5.yaml)"
    )
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. encoder.sbi_fraction=0.3 seed=1")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="one sub-folder per fold, lofo.json"
    )
    parser.add_argument(
        "--folds",
        default=None,
        metavar="A,B",
        help=(
            "run only these folds: a table (method, family, identity) or fold names "
            "(method0, lip_sync, identity1...); default: all eleven"
        ),
    )
    parser.add_argument("--jobs", type=int, default=1, help="folds trained at once, one CPU thread each")


def run(args: argparse.Namespace) -> int:
    from realtime.errors import UserError

    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError(
            "the benchmark trains models and needs PyTorch: pip install 'callshield[train]'"
        ) from None
    from training.lofo import parse_folds, print_report, run_benchmark

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    report = run_benchmark(args.config, args.overrides, args.out, parse_folds(args.folds), args.jobs)
    print_report(report)
    print(f"wrote {args.out / 'lofo.json'}")
    return 0
