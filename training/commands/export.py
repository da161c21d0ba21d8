"""``callshield export CHECKPOINT.pt --out model.onnx``: turn a trained checkpoint into the model file.

The output is what the runtime loads (and what ships as ``engines/weights/callshield.onnx``): one
ONNX graph with the encoder and the temporal head, the metadata inside, checked and run against
PyTorch before it is written under its name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime.errors import InputError, UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", type=Path, help="training checkpoint (.pt) written by `callshield train`"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="ONNX file to write (default: CHECKPOINT.onnx)"
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument(
        "--model-version", default=None, help="override the model_version stored in the metadata"
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from engines.artifact import ModelFileError
    from engines.export import ExportError, export_onnx, load_checkpoint

    out: Path = args.out or args.checkpoint.with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":
        raise UserError(f"--out must end in .onnx, got {out}")
    if not 13 <= args.opset <= 21:
        raise UserError(f"--opset must be between 13 and 21, got {args.opset}")
    try:
        checkpoint = load_checkpoint(args.checkpoint)
    except ModelFileError as exc:
        raise InputError(str(exc)) from None
    meta = checkpoint.meta
    if args.model_version:
        meta = replace(meta, model_version=args.model_version)
    print(
        f"exporting {args.checkpoint} ({meta.model_version}, crop {meta.crop.size}px, T={meta.window})",
        file=sys.stderr,
    )
    try:
        result = export_onnx(checkpoint.model, meta, out, opset=args.opset)
    except ExportError as exc:
        raise UserError(f"export failed: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(
        f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB); ONNX Runtime vs PyTorch max |diff|: "
        f"features {result.feature_max_abs_diff:.1e}, logits {result.logit_max_abs_diff:.1e}"
    )
    return 0
