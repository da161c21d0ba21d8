"""The generalization benchmark: leave one family of fakes out, train, score that family unseen.

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

Recipes are compared by this table's mean and worst family, never by the val split. A video's
score is the mean probability of a few windows of its cached crops (clean domain) through the
model's own window head, so a temporal head is measured, not only the frame classifier. One fold
is one ``training.train.run_training`` call in its own folder; a finished fold (its ``model.pt``)
is reused, so an interrupted benchmark resumes, and ``--jobs 2`` runs two folds at once (one CPU
thread each).

    callshield lofo training/configs/callshield_v4.yaml --out runs/lofo/v4 [key=value ...]
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
from training.families import FAMILIES, family_of
from training.manifest import ManifestRow, read_manifest
from training.metrics import roc_auc

IDENTITY_FOLDS = 3
SCORED_WINDOWS = 6  # evenly spaced windows of consecutive crops per video: the mean settles early


@dataclass(frozen=True)
class Fold:
    """One training run of the benchmark: ``family`` left out (None: none) and identity fold ``k``."""

    family: str | None
    k: int

    @property
    def name(self) -> str:
        return f"{self.family}" if self.family else f"identity{self.k}"

    def overrides(self, out: Path) -> list[str]:
        return [
            f"out_dir={out / self.name}",
            f"data.calib_folds={IDENTITY_FOLDS}",
            f"data.calib_fold={self.k}",
            f"data.holdout_family={self.family or ''}",
        ]


def all_folds() -> list[Fold]:
    """One fold per family (its real identity fold rotating), then the identity-only folds."""
    return [Fold(f, i % IDENTITY_FOLDS) for i, f in enumerate(FAMILIES)] + [
        Fold(None, k) for k in range(IDENTITY_FOLDS)
    ]


def scored_rows(fold: Fold, cfg: Any) -> list[ManifestRow]:
    """The train-split videos a fold's model never saw and is scored on: the family's fakes, the
    real footage they were made of, and the real videos of the held-out identity fold (for an
    identity fold: every video of it). The same rule as training's (``fit_and_calibration_rows``)."""
    from training.clips import family_footage, identity_key
    from training.train import fit_and_calibration_rows

    _, calib = fit_and_calibration_rows(cfg)
    calib = [r for r in calib if r.kind == "video"]
    if fold.family is None:
        return calib
    videos = [r for r in read_manifest(cfg.data.manifest) if r.split == "train" and r.kind == "video"]
    excluded = set(cfg.data.exclude_multi_face_fakes)
    groups = cfg.data.identity_groups
    footage = family_footage(videos, fold.family, groups)
    fakes = [r for r in videos if family_of(r) == fold.family and r.path not in excluded]
    own_reals = [r for r in videos if r.label == "real" and identity_key(r.identity, groups) in footage]
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
    """Score a trained fold on its unseen videos: per-video mean window probabilities."""
    import torch

    from engines.export import load_checkpoint
    from training.cache import build_cache, load_clip
    from training.config import load_config
    from training.metrics import sigmoid
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
        feats = encode_clip(model, crops[used], rt)[where.reshape(span.shape)]
        logits = np.concatenate([window_logits(model, run, cfg.model.window, rt) for run in feats])
        videos.append(
            {
                "path": row.path,
                "label": row.label,
                "family": family_of(row),
                "score": float(np.mean(sigmoid(logits))),
            }
        )
    return {"fold": fold.name, "family": fold.family, "identity_fold": fold.k, "videos": videos}


def fold_auc(videos: list[dict[str, Any]], family: str | None = None) -> float:
    """AUC of ``family``'s fakes (all fakes when None) against every real of the list."""
    chosen = [v for v in videos if v["label"] == "real" or family is None or v["family"] == family]
    labels = np.array([v["label"] == "fake" for v in chosen], int)
    return roc_auc(labels, np.array([v["score"] for v in chosen]))


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-family AUC (left out), their mean and worst, identity-fold AUCs and their mean."""
    family_auc = {r["family"]: fold_auc(r["videos"], r["family"]) for r in results if r["family"]}
    identity_auc = {r["fold"]: fold_auc(r["videos"]) for r in results if not r["family"]}
    summary: dict[str, Any] = {"family_auc": family_auc, "identity_auc": identity_auc}
    if family_auc:
        worst = min(family_auc, key=lambda f: family_auc[f])
        summary.update(
            lofo_mean=float(np.mean(list(family_auc.values()))),
            lofo_worst=family_auc[worst],
            worst_family=worst,
        )
    if identity_auc:
        summary["identity_mean"] = float(np.mean(list(identity_auc.values())))
    return summary


def format_table(results: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    lines = [f"{'fold':<12} {'fakes':>6} {'reals':>6} {'AUC':>6}"]
    for r in results:
        n_fake = sum(v["label"] == "fake" for v in r["videos"])
        n_real = len(r["videos"]) - n_fake
        auc = summary["family_auc"].get(r["family"]) if r["family"] else summary["identity_auc"][r["fold"]]
        lines.append(f"{r['fold']:<12} {n_fake:>6} {n_real:>6} {auc:>6.3f}")
    if "lofo_mean" in summary:
        lines.append(
            f"leave-one-family-out: mean {summary['lofo_mean']:.3f}, "
            f"worst {summary['lofo_worst']:.3f} ({summary['worst_family']})"
        )
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
                [sys.executable, "-m", "realtime", "train", *args, "--no-export", "threads=1"],
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


def parse_folds(text: str | None) -> list[Fold]:
    folds = all_folds()
    if not text:
        return folds
    by_name = {f.name: f for f in folds}
    unknown = [name for name in text.split(",") if name not in by_name]
    if unknown:
        raise UserError(f"unknown fold(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[name] for name in text.split(",")]


def print_report(report: dict[str, Any]) -> None:
    print(format_table(report["folds"], report["summary"]))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.lofo ...``: the same as ``callshield lofo ...``."""
    from realtime.cli import main as cli_main

    return cli_main(["lofo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
