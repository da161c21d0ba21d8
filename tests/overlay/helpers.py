"""Reading pixels back from grabbed widgets, and scripted event streams."""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QWidget

from realtime.events import FaceEvent
from realtime.sinks import FrameResult
from realtime.style import STATE_RGB


def grab_rgb(widget: QWidget) -> np.ndarray:
    """The widget as it paints itself, as an ``(H, W, 3)`` RGB array (works off-screen)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    assert ptr is not None
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def colour_share(rgb: np.ndarray, state: str, tolerance: int = 12) -> float:
    """Fraction of pixels within ``tolerance`` of ``state``'s colour."""
    target = np.array(STATE_RGB[state], np.int16)
    close = np.all(np.abs(rgb.astype(np.int16) - target) <= tolerance, axis=-1)
    return float(close.mean())


def scripted_results(
    states: list[tuple[str, float | None]],
    track_id: int = 1,
    size: tuple[int, int] = (320, 240),
    box: tuple[float, float, float, float] = (100.0, 60.0, 200.0, 180.0),
    fps: float = 30.0,
    quality: list[str] | None = None,
) -> list[FrameResult]:
    """One FrameResult per ``(state, risk)`` on a grey frame: a face whose state follows the script."""
    width, height = size
    results = []
    for i, (state, risk) in enumerate(states):
        reason = None
        if state == "uncertain":
            reason = "warming_up" if risk is None else ("low_quality" if quality else "undecided")
        event = FaceEvent(
            t=i / fps,
            frame=i,
            track_id=track_id,
            box=box,
            p_fake=risk,
            risk=risk,
            state=state,
            reason=reason,
            quality=list(quality or []),
            scored=risk is not None,
        )
        image = np.full((height, width, 3), 90, np.uint8)
        results.append(FrameResult(i, i / fps, image, [event], {}))
    return results
