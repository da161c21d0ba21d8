"""An ensemble of benchmark runs: the same folds, each video's p_fake averaged over the runs.

    python -m training.ensemble runs/lomo/D runs/lomo/D_strong --out runs/lomo/D+D_strong

Why from the runs and not trained again: each run's fold models already scored every held-out
video clean and through both compressions, so the mean of their scores is exactly what a runtime
averaging those models would report. The result is a ``lofo.json`` that ``training.compare``
tables beside the single recipes.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import UserError
from training.compare import load_run


def average_folds(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first report's folds with every video's clean and shifted score averaged over all
    reports; the runs must have scored the same videos of the same folds."""
    merged = copy.deepcopy(reports[0]["folds"])
    for fold_index, fold in enumerate(merged):
        for video_index, video in enumerate(fold["videos"]):
            same = [r["folds"][fold_index]["videos"][video_index] for r in reports]
            if any(v["path"] != video["path"] for v in same):
                raise UserError(f"fold {fold['fold']}: the runs scored different videos")
            video["score"] = float(np.mean([v["score"] for v in same]))
            video["shifted"] = {c: float(np.mean([v["shifted"][c] for v in same])) for c in video["shifted"]}
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    from realtime.atomic import write_json_atomic
    from training.lofo import summarise

    parser = argparse.ArgumentParser(prog="python -m training.ensemble", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="benchmark run folders (each with lofo.json)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the ensemble's lofo.json")
    args = parser.parse_args(argv)
    try:
        if len(args.runs) < 2:
            raise UserError("an ensemble needs at least two runs")
        reports = [load_run(folder) for folder in args.runs]
        if len({len(r["folds"]) for r in reports}) != 1:
            raise UserError("the runs hold different folds")
        folds = average_folds(reports)
        args.out.mkdir(parents=True, exist_ok=True)
        names = "+".join(folder.name for folder in args.runs)
        report = {
            "config": reports[0]["config"],
            "overrides": [f"mean of {names}"],
            "summary": summarise(folds),
            "folds": folds,
        }
        write_json_atomic(report, args.out / "lofo.json")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out / 'lofo.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
