"""``callshield train CONFIG.yaml [key=value ...]``: train a detector, then export it to ONNX."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML training config (e.g. training/configs/callshield_v5.yaml)")
    parser.add_argument(
        "overrides", nargs="*", help="config overrides such as encoder.steps=100 out_dir=runs/x"
    )
    parser.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX export at the end")


def run(args: argparse.Namespace) -> int:
    from realtime.errors import UserError

    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError("training needs PyTorch: pip install 'callshield[train]'") from None
    from training.config import load_config
    from training.train import run_training

    cfg = load_config(args.config, args.overrides)
    if not Path(cfg.data.manifest).is_file():
        raise UserError(f"manifest not found: {cfg.data.manifest} (set data.manifest=PATH)")
    if cfg.model.imagenet and not Path(cfg.model.imagenet).expanduser().is_file():
        raise UserError(
            f"ImageNet weights not found: {cfg.model.imagenet} (see MODEL_CARD.md for how to get them, "
            "or pass model.imagenet= to start from random weights)"
        )
    checkpoint = run_training(cfg, resume=args.resume)
    if not args.no_export and os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 exports
        from engines.export import export_onnx, load_checkpoint

        trained = load_checkpoint(checkpoint)
        onnx_path = checkpoint.with_suffix(".onnx")
        export_onnx(trained.model, trained.meta, onnx_path)
        print(f"exported {onnx_path}")
    return 0
