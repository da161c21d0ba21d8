"""Recipes side by side: one row per benchmark run (its ``lofo.json``), the numbers recipes are
chosen on, and a plot of how they move with one setting (a learning curve).

    python -m training.compare runs/lomo/A runs/lomo/B [--plot docs/curve.png --x encoder.steps]

Why a command and not a spreadsheet: the choice of the shipped recipe is the table this prints, so
anyone can regenerate it from the runs and check it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from realtime.errors import UserError

COLUMNS = ("selection", "lomo_mean", "lomo_worst", "heavy", "call", "lofo_mean")
FAMILY_ORDER = ("live_swap", "face_swap", "academic", "lip_sync", "animation")


def load_run(folder: Path) -> dict[str, Any]:
    path = folder / "lofo.json"
    if not path.is_file():
        raise UserError(f"{folder}: no lofo.json (run `callshield lofo ... --out {folder}` first)")
    try:
        return dict(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not a benchmark report ({exc.msg})") from None


def row_of(name: str, report: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run: method-out mean and worst, the compression shift, family-out mean,
    and the method-out mean of each family."""
    s = report["summary"]
    shift = s.get("lomo_shift_mean", {})
    measures = [s.get("lomo_mean"), shift.get("heavy"), shift.get("call")]
    return {
        # what recipes are chosen on: the method-out mean, clean and through both compressions
        "selection": None if None in measures else sum(measures) / 3,
        "recipe": name,
        "overrides": " ".join(report.get("overrides", [])) or "(config as is)",
        "lomo_mean": s.get("lomo_mean"),
        "lomo_worst": s.get("lomo_worst"),
        "heavy": shift.get("heavy"),
        "call": shift.get("call"),
        "lofo_mean": s.get("lofo_mean"),
        "families": s.get("method_family_mean", {}),
    }


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The comparison as a Markdown table (what MODEL_CARD.md carries)."""
    head = [
        "recipe",
        "overrides",
        "selection",
        "method-out mean",
        "worst",
        "heavy",
        "call",
        "family-out mean",
    ]
    head += [f.replace("_", " ") for f in FAMILY_ORDER]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["recipe"], f"`{r['overrides']}`", *(_cell(r[c]) for c in COLUMNS)]
        cells += [_cell(r["families"].get(f)) for f in FAMILY_ORDER]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def setting_of(report: dict[str, Any], key: str) -> float | None:
    """The value of ``key`` (e.g. ``encoder.steps``) a run was given as an override, else None."""
    for item in report.get("overrides", []):
        name, _, value = item.partition("=")
        if name == key:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def plot_curve(runs: Sequence[tuple[str, dict[str, Any]]], key: str, default: float, out: Path) -> Path:
    """Method-out mean (clean, heavy, call) against ``key`` (runs without the override sit at
    ``default``), one line per measure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted((setting_of(report, key) or default, row_of(name, report)) for name, report in runs)
    fig, ax = plt.subplots(figsize=(6, 4))
    for measure, label in (("lomo_mean", "clean"), ("heavy", "heavy compression"), ("call", "call codec")):
        xs = [x for x, r in points if r[measure] is not None]
        ax.plot(xs, [r[measure] for x, r in points if r[measure] is not None], "o-", label=label)
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel(key)
    ax.set_ylabel("leave-one-method-out mean AUC")
    settings = sorted({x for x, _ in points})
    if settings[0] > 0 and settings[-1] >= 5 * settings[0]:  # steps span decades, crop sizes do not
        ax.set_xscale("log")
    ax.set_xticks(settings, [f"{x:g}" for x in settings])
    ax.minorticks_off()
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="benchmark folders (each with lofo.json)")
    parser.add_argument("--plot", type=Path, help="write a PNG of the method-out mean against --x")
    parser.add_argument("--x", default="encoder.steps", help="the setting the plot's x axis shows")
    parser.add_argument("--default", type=float, default=300.0, help="--x of runs without that override")
    args = parser.parse_args(argv)
    try:
        runs = [(folder.name, load_run(folder)) for folder in args.runs]
        print(markdown_table([row_of(name, report) for name, report in runs]))
        if args.plot:
            print(f"wrote {plot_curve(runs, args.x, args.default, args.plot)}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
