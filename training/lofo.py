"""The generalization benchmarks: leave fakes out, train, score them unseen.

Two tables, both reported, recipes chosen on their means (never on the val split):

* **leave one method out** (folds ``method0..method2``): every tool, generator, FF++ method and
  live-swap face model (:func:`training.families.method_of`) is held out, with its footage, in one
  of three folds, each fold holding out about a third of every family. This is what users meet:
  mostly new tools of known kinds. Each method's fakes are scored against its fold's held-out
  reals; the table is one AUC per method, their mean and the worst.
* **leave one family out** (folds named by family): a whole kind of fake never seen.

The maintainers' hidden set holds methods and identities that are in none of our folders, so a
recipe is worth what it scores on fakes of a kind it never saw. For each family
(:data:`training.families.FAMILIES`) the recipe is trained on the train split without any fake of
that family and without one third of the real identities (an identity fold of
:func:`training.clips.heldout_identities`, rotating with the family); the model then scores the
family's fakes against those held-out reals, of every kind (webcams, interviews, GRID, FF++
originals, live-swap camera streams). The family's footage goes with it: the real twins, source
clips and driving videos its fakes were made of are neither trained on nor calibrated on, and are
scored among the reals, so the fakes are unseen people in unseen streams, as in the hidden set.
Three more runs hold out an identity fold only (every family seen, the identities not), the
cross-validation earlier recipes were chosen by.

Both tables also score every held-out video through H.264 (:mod:`training.shift`: ``heavy``, about
FF++ c40; ``call``, a face's share of a 500 kbps call), fakes and reals alike, so a model that reads
compression as realness shows it. A video's
score is the mean probability of a few windows of its cached crops (clean domain) through the
model's own window head, so a temporal head is measured, not only the frame classifier. One fold
is one ``training.train.run_training`` call in its own folder; a finished fold (its ``model.pt``)
is reused, so an interrupted benchmark resumes, and ``--jobs 2`` runs two folds at once (one CPU
thread each).

    callshield lofo training/configs/callshield_v5.yaml --out runs/lofo/v5 [key=value ...]
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime.atomic import write_json_atomic
from realtime.errors import UserError
from training.families import FAMILIES, family_of, method_of
from training.manifest import ManifestRow, read_manifest
from training.metrics import roc_auc

IDENTITY_FOLDS = 3
SCORED_WINDOWS = 6  # evenly spaced windows of consecutive crops per video: the mean settles early


METHOD_FOLDS = 3


@dataclass(frozen=True)
class Fold:
    """One training run of a benchmark: ``family`` left out, or method fold ``k`` (``methods``), or
    neither; and identity fold ``k`` of the reals."""

    family: str | None
    k: int
    methods: bool = False

    @property
    def name(self) -> str:
        if self.methods:
            return f"method{self.k}"
        return f"{self.family}" if self.family else f"identity{self.k}"

    @property
    def kind(self) -> str:
        """Which table the fold belongs to: ``method``, ``family`` or ``identity``."""
        return "method" if self.methods else "family" if self.family else "identity"

    def overrides(self, out: Path) -> list[str]:
        return [
            f"out_dir={out / self.name}",
            f"data.calib_folds={IDENTITY_FOLDS}",
            f"data.calib_fold={self.k}",
            f"data.method_folds={METHOD_FOLDS}",
            f"data.holdout_method_fold={self.k if self.methods else -1}",
            f"data.holdout_family={self.family or ''}",
        ]


def all_folds() -> list[Fold]:
    """The method folds, one fold per family (its real identity fold rotating), then the
    identity-only folds."""
    return (
        [Fold(None, k, methods=True) for k in range(METHOD_FOLDS)]
        + [Fold(f, i % IDENTITY_FOLDS) for i, f in enumerate(FAMILIES)]
        + [Fold(None, k) for k in range(IDENTITY_FOLDS)]
    )


def scored_rows(fold: Fold, cfg: Any) -> list[ManifestRow]:
    """The train-split videos a fold's model never saw and is scored on: the held-out fakes, the
    real footage they were made of, and the real videos of the held-out identity fold (for an
    identity fold: every video of it). The same rule as training's (``fit_and_calibration_rows``)."""
    from training.clips import footage_of, heldout_fakes, identity_key
    from training.train import fit_and_calibration_rows

    _, calib = fit_and_calibration_rows(cfg)
    calib = [r for r in calib if r.kind == "video"]
    if fold.kind == "identity":
        return calib
    rows = [r for r in read_manifest(cfg.data.manifest) if r.split == "train"]
    excluded = set(cfg.data.exclude_multi_face_fakes)
    groups = cfg.data.identity_groups
    held = heldout_fakes(rows, cfg.data)
    footage = footage_of(rows, held, groups)
    fakes = [r for r in held if r.kind == "video" and r.path not in excluded]
    own_reals = [
        r
        for r in rows
        if r.kind == "video" and r.label == "real" and identity_key(r.identity, groups) in footage
    ]
    return fakes + own_reals + [r for r in calib if r.label == "real"]


def window_span(n_crops: int, window: int) -> np.ndarray:
    """Crop indices ``(runs, length)`` of up to :data:`SCORED_WINDOWS` evenly spaced runs of ``window``
    consecutive crops. A clip shorter than one window is one run of all its crops (``window_logits``
    pads it).
    """
    if n_crops <= window:
        return np.arange(n_crops)[None, :]
    n_windows = min(SCORED_WINDOWS, n_crops - window + 1)
    starts = np.linspace(0, n_crops - window, n_windows).round().astype(int)
    return starts[:, None] + np.arange(window)[None, :]


def score_fold(fold: Fold, config: str, overrides: Sequence[str], out: Path) -> dict[str, Any]:
    """Score a trained fold on its unseen videos: per-video mean window probabilities, clean and
    through each compression shift (:data:`training.shift.CONDITIONS`)."""
    import torch

    from engines.export import load_checkpoint
    from training.cache import build_cache, load_clip
    from training.clips import identity_key
    from training.config import load_config
    from training.metrics import sigmoid
    from training.shift import CONDITIONS, shifted_crops
    from training.train import Runtime, clean_cache_spec, encode_clip, window_logits

    cfg = load_config(config, [*overrides, *fold.overrides(out)])
    model = load_checkpoint(Path(cfg.out_dir) / "model.pt").model.eval()
    rt = Runtime(device=torch.device("cpu"), rank=0, world=1, writer=None)
    rows = scored_rows(fold, cfg)
    entries = build_cache(
        rows, clean_cache_spec(cfg.data), Path(cfg.data.cache_dir).expanduser(), progress=False
    )
    videos = []
    for row in rows:
        if row.path not in entries:
            continue
        crops = load_clip(entries[row.path]).crops
        span = window_span(len(crops), cfg.model.window)
        used, where = np.unique(span, return_inverse=True)  # runs of a short clip overlap: encode once
        scores = {}
        for condition in CONDITIONS:
            feats = encode_clip(model, shifted_crops(crops[used], condition), rt)[where.reshape(span.shape)]
            logits = np.concatenate([window_logits(model, run, cfg.model.window, rt) for run in feats])
            scores[condition] = float(np.mean(sigmoid(logits)))
        videos.append(
            {
                "path": row.path,
                "label": row.label,
                "family": family_of(row),
                "method": method_of(row, identity_key(row.identity, cfg.data.identity_groups)),
                "score": scores["clean"],
                "shifted": {c: scores[c] for c in CONDITIONS if c != "clean"},
            }
        )
    return {
        "fold": fold.name,
        "kind": fold.kind,
        "family": fold.family,
        "identity_fold": fold.k,
        "videos": videos,
    }


def fold_auc(
    videos: list[dict[str, Any]],
    family: str | None = None,
    method: str | None = None,
    condition: str = "clean",
) -> float:
    """AUC of ``family``'s (or ``method``'s; all when None) fakes against every real of the list,
    on the clean scores or those through ``condition``."""

    def chosen(v: dict[str, Any]) -> bool:
        if v["label"] == "real":
            return True
        return (family is None or v["family"] == family) and (method is None or v.get("method") == method)

    picked = [v for v in videos if chosen(v)]
    labels = np.array([v["label"] == "fake" for v in picked], int)
    score = [v["score"] if condition == "clean" else v["shifted"][condition] for v in picked]
    return roc_auc(labels, np.array(score))


def _kind(result: dict[str, Any]) -> str:
    return str(result.get("kind") or ("family" if result["family"] else "identity"))


def _mean_worst(aucs: dict[str, float]) -> tuple[float, float, str]:
    worst = min(aucs, key=lambda k: aucs[k])
    return float(np.mean(list(aucs.values()))), aucs[worst], worst


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-method AUC (method folds), per-family AUC (family folds), their means and worst, the
    compression-shift means, identity-fold AUCs and their mean."""
    from training.shift import CONDITIONS

    family_auc = {r["family"]: fold_auc(r["videos"], r["family"]) for r in results if _kind(r) == "family"}
    identity_auc = {r["fold"]: fold_auc(r["videos"]) for r in results if _kind(r) == "identity"}
    summary: dict[str, Any] = {"family_auc": family_auc, "identity_auc": identity_auc}
    method_auc: dict[str, float] = {}
    method_fold: dict[str, str] = {}
    shift: dict[str, dict[str, float]] = {}
    for r in results:
        if _kind(r) != "method":
            continue
        for unit in sorted({v["method"] for v in r["videos"] if v["label"] == "fake"}):
            method_auc[unit] = fold_auc(r["videos"], method=unit)
            method_fold[unit] = r["fold"]
            for condition in CONDITIONS[1:]:
                shift.setdefault(condition, {})[unit] = fold_auc(
                    r["videos"], method=unit, condition=condition
                )
    if method_auc:
        mean, worst, worst_name = _mean_worst(method_auc)
        by_family: dict[str, list[float]] = {}
        for unit, auc in method_auc.items():
            by_family.setdefault(unit.split("/")[0], []).append(auc)
        summary.update(
            method_auc=method_auc,
            method_fold=method_fold,
            method_family_mean={f: float(np.mean(a)) for f, a in sorted(by_family.items())},
            lomo_mean=mean,
            lomo_worst=worst,
            worst_method=worst_name,
            method_shift_auc=shift,
            lomo_shift_mean={c: float(np.mean(list(a.values()))) for c, a in shift.items()},
            real_shift=_real_shift(results),
        )
    if family_auc:
        mean, worst, worst_name = _mean_worst(family_auc)
        summary.update(lofo_mean=mean, lofo_worst=worst, worst_family=worst_name)
    if identity_auc:
        summary["identity_mean"] = float(np.mean(list(identity_auc.values())))
    return summary


def _real_shift(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean change of p_fake through each compression shift, reals and fakes of the method folds
    apart: compression must not move a real face (nor make a fake look real)."""
    from training.shift import CONDITIONS

    out: dict[str, dict[str, float]] = {}
    videos = [v for r in results if _kind(r) == "method" for v in r["videos"]]
    for condition in CONDITIONS[1:]:
        out[condition] = {
            label: float(
                np.mean([v["shifted"][condition] - v["score"] for v in videos if v["label"] == label])
            )
            for label in ("real", "fake")
            if any(v["label"] == label for v in videos)
        }
    return out


def format_table(results: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = [f"{'fold':<12} {'fakes':>6} {'reals':>6} {'AUC':>6}"]
    for r in results:
        n_fake = sum(v["label"] == "fake" for v in r["videos"])
        n_real = len(r["videos"]) - n_fake
        lines.append(f"{r['fold']:<12} {n_fake:>6} {n_real:>6} {fold_auc(r['videos']):>6.3f}")
    if "lomo_mean" in summary:
        lines.append(f"{'method (held out)':<56} {'fold':<8} {'clean':>6} {'heavy':>6} {'call':>6}")
        shift = summary["lomo_shift_mean"]
        for unit, auc in sorted(summary["method_auc"].items()):
            per = " ".join(f"{summary['method_shift_auc'][c][unit]:>6.3f}" for c in shift)
            lines.append(f"{unit:<56} {summary['method_fold'][unit]:<8} {auc:>6.3f} {per}")
        families = ", ".join(f"{f} {a:.3f}" for f, a in summary["method_family_mean"].items())
        lines.append(
            f"leave-one-method-out: mean {summary['lomo_mean']:.3f}, worst {summary['lomo_worst']:.3f} "
            f"({summary['worst_method']}); heavy {shift.get('heavy', float('nan')):.3f}, "
            f"call {shift.get('call', float('nan')):.3f}"
        )
        lines.append(f"  by family: {families}")
        moved = "; ".join(
            f"{c}: reals {d.get('real', float('nan')):+.3f}, fakes {d.get('fake', float('nan')):+.3f}"
            for c, d in summary["real_shift"].items()
        )
        lines.append(f"  mean change of p_fake through compression: {moved}")
    if "lofo_mean" in summary:
        lines.append(
            f"leave-one-family-out: mean {summary['lofo_mean']:.3f}, "
            f"worst {summary['lofo_worst']:.3f} ({summary['worst_family']})"
        )
        lines.append("  " + ", ".join(f"{f} {a:.3f}" for f, a in summary["family_auc"].items()))
    if "identity_mean" in summary:
        lines.append(f"identity folds: mean {summary['identity_mean']:.3f}")
    return "\n".join(lines)


def train_fold(fold: Fold, config: str, overrides: Sequence[str], out: Path, subprocess_run: bool) -> None:
    """Train one fold unless its model is already there (in a child process for ``--jobs`` > 1)."""
    if (out / fold.name / "model.pt").is_file():
        return
    args = [config, *overrides, *fold.overrides(out)]
    if subprocess_run:
        log = out / f"{fold.name}.log"
        with open(log, "w") as fh:
            code = subprocess.call(
                [sys.executable, "-m", "realtime", "train", *args, "threads=1", "--no-export"],
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        if code != 0:
            raise UserError(f"fold {fold.name} failed (exit {code}); see {log}")
        return
    from training.config import load_config
    from training.train import run_training

    run_training(load_config(config, list(args[1:])))


def run_benchmark(
    config: str, overrides: Sequence[str], out: Path, folds: Sequence[Fold], jobs: int = 1
) -> dict[str, Any]:
    """Train every fold (reusing finished ones), score them, and write ``out/lofo.json``."""
    from training.config import load_config

    load_config(config, list(overrides))  # a bad config or override fails here, before any training
    out.mkdir(parents=True, exist_ok=True)
    if jobs > 1:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(lambda f: train_fold(f, config, overrides, out, True), folds))
    else:
        for fold in folds:
            train_fold(fold, config, overrides, out, False)
    results = [score_fold(fold, config, overrides, out) for fold in folds]
    summary = summarise(results)
    report = {"config": config, "overrides": list(overrides), "summary": summary, "folds": results}
    write_json_atomic(report, out / "lofo.json")
    return report


FOLD_GROUPS = ("method", "family", "identity")


def parse_folds(text: str | None) -> list[Fold]:
    """Folds by name (``method0``, ``lip_sync``, ``identity1``...) or by table (``method``,
    ``family``, ``identity``), comma-separated; all of them when empty."""
    folds = all_folds()
    if not text:
        return folds
    by_name = {f.name: f for f in folds}
    chosen: list[Fold] = []
    for name in text.split(","):
        if name in FOLD_GROUPS:
            chosen += [f for f in folds if f.kind == name and f not in chosen]
        elif name in by_name:
            chosen += [by_name[name]] if by_name[name] not in chosen else []
        else:
            raise UserError(
                f"unknown fold {name}; known: {', '.join(FOLD_GROUPS)} or one of {', '.join(by_name)}"
            )
    return chosen


def print_report(report: dict[str, Any]) -> None:
    print(format_table(report["folds"], report["summary"]))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.lofo ...``: the same as ``callshield lofo ...``."""
    from realtime.cli import main as cli_main

    return cli_main(["lofo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
