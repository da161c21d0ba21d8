"""Score a training checkpoint on the train identities held out from training (model selection).

Why not the val split: choosing between recipes by their val score would tune the model to val.
The held-out train identities (``data.calib_fraction``, grouped by ``data.identity_groups``) are
never trained on, so recipes are compared here and val is measured once, afterwards. The crops come
from the training crop cache (clean domain), scored in PyTorch two ways: the temporal head over
sliding windows, and the plain mean of per-frame probabilities.

``python -m training.heldout runs/NAME/model.pt`` prints AUCs overall and for deepfacelive. Given
several checkpoints (e.g. seeds of one recipe), it also scores their ensemble (mean of the video
scores) and, when they share one architecture, their weight average (one network, as cheap to run
as each of them).
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engines.artifact import ModelFileError
from engines.export import load_checkpoint
from realtime.errors import UserError
from training.cache import build_cache, load_clip
from training.clips import heldout_identities
from training.config import TrainConfig, config_from_dict, load_config
from training.manifest import read_manifest
from training.metrics import roc_auc, sigmoid
from training.models import Detector
from training.train import Runtime, clean_cache_spec, encode_clip, window_logits


@dataclass
class HeldoutScore:
    path: str
    source: str
    label: int
    head: float  # mean sigmoid of the temporal head's window logits
    frame: float  # mean per-frame probability of the frame classifier
    pair_id: str = ""  # a fake and the real footage it was made from share one


def score_heldout(model: Detector, config: TrainConfig) -> list[HeldoutScore]:
    """Score ``model`` on the train identities ``config`` holds out from fitting."""
    model.eval()
    rt = Runtime(device=torch.device("cpu"), rank=0, world=1, writer=None)
    data = config.data
    train_rows = [r for r in read_manifest(data.manifest) if r.split == "train"]
    heldout = heldout_identities(train_rows, data)
    excluded = set(data.exclude_multi_face_fakes)  # their label does not hold for every face
    rows = [r for r in train_rows if r.kind == "video" and r.identity in heldout and r.path not in excluded]
    entries = build_cache(rows, clean_cache_spec(data), Path(data.cache_dir).expanduser())
    scores = []
    for row in rows:
        if row.path not in entries:
            continue
        feats = encode_clip(model, load_clip(entries[row.path]).crops, rt)
        with torch.no_grad():
            frame_logits = model.frame_classifier(torch.from_numpy(feats)).squeeze(1).numpy()
        head = window_logits(model, feats, config.model.window, rt)
        scores.append(
            HeldoutScore(
                row.path,
                row.source,
                row.target,
                float(np.mean(sigmoid(head))),
                float(np.mean(sigmoid(frame_logits))),
                row.pair_id,
            )
        )
    return scores


def twin_wins(scores: list[HeldoutScore]) -> float:
    """Share of fakes whose frame-mean score is above their own real twin's (same footage).

    AUC compares every fake with every real across streams; this compares each fake only with the
    stream it was made from, so it shows whether the model ranks the swap even where the stream
    itself moves the score.
    """
    reals = {s.pair_id: s.frame for s in scores if s.pair_id and s.label == 0}
    wins = [s.frame > reals[s.pair_id] for s in scores if s.label == 1 and s.pair_id in reals]
    return float(np.mean(wins)) if wins else float("nan")


def auc_of(scores: list[HeldoutScore], attr: str) -> float:
    return roc_auc(np.array([s.label for s in scores]), np.array([getattr(s, attr) for s in scores]))


def ensemble(per_model: list[list[HeldoutScore]]) -> list[HeldoutScore]:
    """Mean of each video's scores over several models (all scored on the same held-out videos)."""
    by_path = [{s.path: s for s in scores} for scores in per_model]
    common = [s for s in per_model[0] if all(s.path in m for m in by_path)]
    return [
        HeldoutScore(
            s.path,
            s.source,
            s.label,
            float(np.mean([m[s.path].head for m in by_path])),
            float(np.mean([m[s.path].frame for m in by_path])),
            s.pair_id,
        )
        for s in common
    ]


def average_weights(models: list[Detector]) -> Detector:
    """One detector whose parameters and BatchNorm statistics are the mean of ``models``' ("model
    soup"). Integer buffers (BatchNorm's batch counters) are taken from the first model."""
    states = [m.state_dict() for m in models]
    soup = copy.deepcopy(models[0])
    averaged = {
        key: (torch.stack([s[key].float() for s in states]).mean(0).to(value.dtype))
        if value.is_floating_point()
        else value
        for key, value in states[0].items()
    }
    soup.load_state_dict(averaged)
    return soup


def same_architecture(models: list[Detector]) -> bool:
    """True when every model has the same parameter names and shapes (a weight average exists)."""
    shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in models]
    return all(s == shapes[0] for s in shapes[1:])


def print_summary(name: str, scores: list[HeldoutScore]) -> None:
    live = [s for s in scores if s.source == "deepfacelive"]
    for group_name, group in (("all", scores), ("deepfacelive", live)):
        head, frame = auc_of(group, "head"), auc_of(group, "frame")
        print(f"{name}{group_name} ({len(group)} videos): head AUC {head:.3f}, frame-mean AUC {frame:.3f}")
    print(f"{name}deepfacelive fakes scored above their real twin: {twin_wins(live):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "checkpoint", type=Path, nargs="+", help="one or more model.pt written by callshield train"
    )
    parser.add_argument(
        "--config",
        default=None,
        help="config naming the manifest, cache and held-out identities (default: the first checkpoint's)",
    )
    args = parser.parse_args()
    try:
        checkpoints = [load_checkpoint(path) for path in args.checkpoint]
        config = load_config(args.config) if args.config else config_from_dict(checkpoints[0].config)
    except (ModelFileError, UserError) as exc:
        sys.exit(f"error: {exc}")
    models = [c.model for c in checkpoints]
    per_model = [score_heldout(m, config) for m in models]
    combined = per_model[0] if len(per_model) == 1 else ensemble(per_model)
    for s in combined:
        print(f"{s.path[-50:]:50s} {'fake' if s.label else 'real'} head={s.head:.3f} frame={s.frame:.3f}")
    if len(models) == 1:
        print_summary("", combined)
        return
    for path, scores in zip(args.checkpoint, per_model, strict=True):
        print_summary(f"[{path}] ", scores)
    print_summary("[ensemble] ", combined)
    if same_architecture(models):
        print_summary("[weight average] ", score_heldout(average_weights(models), config))
    else:
        print("[weight average] skipped: the checkpoints are different architectures")


if __name__ == "__main__":
    main()
