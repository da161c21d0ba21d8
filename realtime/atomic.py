"""Writing files all at once: a temp file in the target's folder, renamed over it on success.

The one way CallShield writes anything a user or a later run reads (reports, plots, manifests,
crop caches, checkpoints, models, TensorRT engines): an interrupted run leaves the old file or
none, never half a file, and no temp file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | Path, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temp path next to ``target``; rename it onto ``target`` only if the block succeeds.

    ``suffix``: the temp file's ending, for writers that pick a format by it (``.npz``, ``.mp4``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(text: str, target: str | Path) -> Path:
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(target)


def write_bytes_atomic(data: bytes, target: str | Path) -> Path:
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(data)
    return Path(target)


def write_json_atomic(data: Any, target: str | Path, allow_nan: bool = True) -> Path:
    """Indented JSON; ``allow_nan=False`` refuses NaN/inf (strict JSON for reports other tools read)."""
    return write_text_atomic(json.dumps(data, indent=2, allow_nan=allow_nan) + "\n", target)
