"""Burn per-face risk into a frame with OpenCV: what the virtual camera sends, no GUI toolkit needed.

Three styles (``callshield vcam --style``):

* ``annotated``: each face boxed in its state's colour, a label tab ``#id state 62%`` and a small
  gauge under the box (0-100 with the model's threshold bands, a marker at the risk), and why the
  face is ``uncertain`` when it is;
* ``badge``: a small pill per face (state colour, risk in percent) at the box's top corner, for
  users who want callers to see they are checked without covering their face;
* ``clean``: the frame untouched.

Colours and words come from :mod:`realtime.style` (the same as the overlay and the browser page).
Frames are RGB, so colours are drawn as RGB tuples. Drawing sizes scale with the frame, so a
176x144 clip and a 1080p camera both stay readable.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from engines.artifact import Thresholds
from realtime.events import FaceEvent
from realtime.style import STATE_RGB, STATE_WORDS, threshold_bands, why_uncertain

STYLES = ("annotated", "badge", "clean")
FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def annotate(
    frame: np.ndarray,
    events: Sequence[FaceEvent],
    style: str = "annotated",
    thresholds: Thresholds | None = None,
) -> np.ndarray:
    """A copy of ``frame`` (uint8 RGB) with ``events`` drawn in ``style`` (``clean``: ``frame`` itself).

    Boxes are in the frame's pixels; boxes partly outside are clipped by OpenCV.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    if style == "clean" or not events:
        return frame
    out = np.ascontiguousarray(frame).copy()
    unit = _unit(out)
    th = thresholds or Thresholds()
    for event in events:
        if style == "annotated":
            draw_face(out, event, th, unit)
        else:
            draw_badge(out, event, unit)
    return out


def _unit(frame: np.ndarray) -> float:
    """Drawing scale: 1.0 at 720 px on the short side, never below what a 144 px frame can read."""
    return max(0.32, min(frame.shape[:2]) / 720.0)


def _text_size(text: str, scale: float, thickness: int) -> tuple[int, int, int]:
    (w, h), base = cv2.getTextSize(text, FONT, scale, thickness)
    return w, h, base


def _percent(risk: float | None) -> str:
    return "--" if risk is None else f"{round(100 * risk):d}%"


def draw_face(frame: np.ndarray, event: FaceEvent, thresholds: Thresholds, unit: float) -> None:
    """Box, label tab, gauge and (when uncertain) the reason, for one face, in place."""
    colour = STATE_RGB.get(event.state, STATE_RGB["uncertain"])
    x0, y0, x1, y1 = (int(round(v)) for v in event.box)
    line = max(1, round(2 * unit))
    cv2.rectangle(frame, (x0, y0), (x1, y1), colour, line, cv2.LINE_AA)

    scale = 0.6 * unit
    thick = max(1, round(1.5 * unit))
    label = f"#{event.track_id} {STATE_WORDS.get(event.state, event.state)} {_percent(event.risk)}"
    tw, th, base = _text_size(label, scale, thick)
    pad = max(2, round(4 * unit))
    tab_y1 = y0 if y0 - th - base - 2 * pad >= 0 else y0 + th + base + 2 * pad
    tab_y0 = tab_y1 - th - base - 2 * pad
    cv2.rectangle(frame, (x0, tab_y0), (x0 + tw + 2 * pad, tab_y1), colour, -1)
    cv2.putText(frame, label, (x0 + pad, tab_y1 - pad - base), FONT, scale, WHITE, thick, cv2.LINE_AA)

    gauge_w = max(x1 - x0, round(90 * unit))
    gauge_h = max(5, round(12 * unit))
    gy0 = y1 + pad
    draw_gauge(frame, (x0, gy0, gauge_w, gauge_h), event.risk, event.state, thresholds)

    why = why_uncertain(event.state, event.reason, event.quality)
    if why:
        small = 0.5 * unit
        _, wh, wbase = _text_size(why, small, 1)
        org = (x0, gy0 + gauge_h + pad + wh)
        cv2.putText(frame, why, org, FONT, small, BLACK, max(2, thick + 1), cv2.LINE_AA)
        cv2.putText(frame, why, org, FONT, small, WHITE, 1, cv2.LINE_AA)


def draw_gauge(
    frame: np.ndarray,
    rect: tuple[int, int, int, int],
    risk: float | None,
    state: str,
    thresholds: Thresholds,
) -> None:
    """A horizontal 0-100 bar: dimmed threshold bands, filled up to ``risk`` in the state's colour."""
    x, y, w, h = rect
    height, width = frame.shape[:2]
    if w <= 0 or h <= 0 or y >= height or x >= width:
        return
    x_end, y_end = min(width, x + w), min(height, y + h)
    xs, ys = max(0, x), max(0, y)
    if x_end <= xs or y_end <= ys:
        return
    region = frame[ys:y_end, xs:x_end]
    for lo, hi, band_state in threshold_bands(thresholds):
        bx0, bx1 = x + round(lo * w), x + round(hi * w)
        bx0, bx1 = max(bx0, xs) - xs, min(bx1, x_end) - xs
        if bx1 > bx0:
            band = np.array(STATE_RGB[band_state], np.float32)
            region[:, bx0:bx1] = (0.45 * region[:, bx0:bx1] + 0.55 * (0.35 * band + 0.65 * 40)).astype(
                np.uint8
            )
    if risk is not None:
        fill = x + round(float(np.clip(risk, 0.0, 1.0)) * w)
        colour = STATE_RGB.get(state, STATE_RGB["uncertain"])
        inner = max(1, h // 4)
        cv2.rectangle(frame, (x, y + inner), (fill, y + h - 1 - inner), colour, -1)
        cv2.line(frame, (fill, y), (fill, y + h - 1), WHITE, max(1, h // 6))
    cv2.rectangle(frame, (x, y), (x + w - 1, y + h - 1), WHITE, 1)


def draw_badge(frame: np.ndarray, event: FaceEvent, unit: float) -> None:
    """A small filled pill in the state's colour with the risk, at the box's top-right corner."""
    colour = STATE_RGB.get(event.state, STATE_RGB["uncertain"])
    _, y0, x1, _ = (int(round(v)) for v in event.box)
    text = _percent(event.risk)
    scale = 0.55 * unit
    thick = max(1, round(1.5 * unit))
    tw, th, base = _text_size(text, scale, thick)
    pad = max(2, round(4 * unit))
    radius = (th + base + 2 * pad) // 2
    bx1 = min(frame.shape[1] - 1, x1)
    bx0 = max(0, bx1 - tw - 2 * pad - 2 * radius)
    by0 = max(0, y0 - radius)
    by1 = by0 + 2 * radius
    centre_y = (by0 + by1) // 2
    cv2.rectangle(frame, (bx0 + radius, by0), (bx1 - radius, by1), colour, -1)
    cv2.circle(frame, (bx0 + radius, centre_y), radius, colour, -1, cv2.LINE_AA)
    cv2.circle(frame, (bx1 - radius, centre_y), radius, colour, -1, cv2.LINE_AA)
    cv2.putText(frame, text, (bx0 + radius + pad, centre_y + th // 2), FONT, scale, WHITE, thick, cv2.LINE_AA)
