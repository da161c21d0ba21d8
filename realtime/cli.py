"""The ``callshield`` command: one CLI with verbs, each verb in a module of its own.

Each verb module exposes ``add_arguments(parser)`` and ``run(args) -> int``, and keeps heavy imports
(torch, Qt, aiortc) inside ``run`` so that ``callshield scan`` never pays for, or needs, torch.
Expected failures raise :class:`realtime.errors.UserError`; they become one ``error:`` line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from realtime.errors import UserError

# verb -> (module, one-line help). Modules are imported when the parser is built, so keep their
# top level light.
VERBS: dict[str, tuple[str, str]] = {
    "demo": (
        "realtime.commands.demo",
        "scan a real sample clip and a manipulated one with the shipped model",
    ),
    "scan": ("realtime.commands.scan", "score video files (or a folder of them) and write JSON + plots"),
    "monitor": ("realtime.commands.monitor", "live loop on a camera, file or screen region"),
    "vcam": (
        "realtime.commands.vcam",
        "send a source to a virtual camera (Zoom/Meet/OBS) with per-face risk burnt in",
    ),
    "serve": (
        "realtime.commands.serve",
        "a browser page and WHIP ingest: analyse a call's video sent over WebRTC",
    ),
    "checks": ("realtime.commands.checks", "report what this machine can run and how to fix what is missing"),
    "bench": ("realtime.commands.bench", "per-stage latency, fps and memory of the live pipeline"),
    "train": ("training.commands.train", "train a detector from a YAML config"),
    "evaluate": ("training.commands.evaluate", "AUC/AP/EER of a model on a manifest"),
    "lofo": ("training.commands.lofo", "leave-one-family-out benchmark of a training recipe"),
    "export": ("training.commands.export", "export a trained checkpoint to a CallShield ONNX model"),
    "manifest": ("training.commands.manifest", "build a manifest.csv from a dataset's standard layout"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callshield",
        description="CallShield: catch face-swap deepfakes in live video calls, on this machine.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb, (module_name, help_text) in VERBS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # verb not built yet in this checkout
            raise
        verb_parser = sub.add_parser(verb, help=help_text, description=help_text)
        module.add_arguments(verb_parser)
        verb_parser.set_defaults(_run=module.run)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return f"callshield {version('callshield')}"
    except Exception:
        return "callshield (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb. Called as the program (``argv`` None: the ``callshield`` script, ``python -m
    realtime``), CallShield owns the process's stderr and keeps native libraries' log chatter off
    it (:mod:`realtime.native_log`); called from Python with an argument list (tests, embedding),
    stderr is left alone."""
    from realtime.native_log import native_logs_filtered

    with native_logs_filtered(enabled=argv is None):
        try:
            return _main(argv)
        finally:
            faces = sys.modules.get("realtime.faces")
            if argv is None and faces is not None:  # the process ends: close while logs are filtered
                faces.close_open_detectors()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
