"""Writing RGB frames to an H.264 file: the one encoder loop the tools share.

The overlay's screenshot tool writes its demo pair and the shortcut probes write converted copies
of real videos; both want the same thing from PyAV (libx264, yuv420p, even sides), differing only
in frame rate and quality. Frames never reach disk in the runtime itself; these are user-invoked
tools writing files they were asked for or temporary ones they delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_h264(
    path: Path,
    frames: Sequence[np.ndarray],
    fps: int | Fraction = 30,
    crf: int = 16,
    preset: str = "veryfast",
) -> Path:
    """RGB ``uint8`` frames of one size as H.264 at ``crf``; odd sides lose their last row/column."""
    import av

    height, width = (side // 2 * 2 for side in frames[0].shape[:2])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for rgb in frames:
            image = np.ascontiguousarray(rgb[:height, :width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path
