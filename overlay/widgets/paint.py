"""Painting shared by the widgets and the report: a state's colour, the gauge bar, the risk history.

One function per picture, taking a ``QPainter`` and a rectangle, so the live gauge, the compact bar
and the saved report draw the same thing the same way. Colours and bands come from
:mod:`realtime.style`, shared with the virtual camera and the browser page.
"""

from __future__ import annotations

from collections.abc import Iterable

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QPainter, QPainterPath, QPen

from engines.artifact import Thresholds
from realtime.style import STATE_RGB, threshold_bands

TRACK_LINE = QColor(30, 30, 30)


def state_colour(state: str) -> QColor:
    r, g, b = STATE_RGB.get(state, STATE_RGB["uncertain"])
    return QColor(r, g, b)


def band_colour(state: str) -> QColor:
    """A state's colour washed towards white: the background band of a gauge or a chart."""
    r, g, b = STATE_RGB.get(state, STATE_RGB["uncertain"])
    return QColor(round(r * 0.3 + 255 * 0.7), round(g * 0.3 + 255 * 0.7), round(b * 0.3 + 255 * 0.7))


def paint_gauge(
    painter: QPainter, rect: QRectF, risk: float | None, state: str, thresholds: Thresholds
) -> None:
    """A 0-100 bar: threshold bands behind, the part up to ``risk`` filled in the state's colour."""
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    for low, high, band in threshold_bands(thresholds):
        painter.setBrush(band_colour(band))
        painter.drawRect(
            QRectF(rect.left() + low * rect.width(), rect.top(), (high - low) * rect.width(), rect.height())
        )
    if risk is not None:
        fill = max(0.0, min(1.0, float(risk))) * rect.width()
        inset = rect.height() * 0.2
        painter.setBrush(state_colour(state))
        painter.drawRect(QRectF(rect.left(), rect.top() + inset, fill, rect.height() - 2 * inset))
        painter.setPen(QPen(TRACK_LINE, 2))
        x = rect.left() + fill
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
    painter.setPen(QPen(QColor(90, 90, 90), 1))
    for level in (thresholds.real, thresholds.suspicious, thresholds.fake):
        x = rect.left() + level * rect.width()
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.top() + rect.height() * 0.25))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(rect.adjusted(0, 0, -1, -1))
    painter.restore()


def paint_history(
    painter: QPainter,
    rect: QRectF,
    points: Iterable[tuple[float, float | None]],
    thresholds: Thresholds,
    t0: float,
    t1: float,
    colour: QColor = TRACK_LINE,
) -> None:
    """Risk over time (``t0``..``t1`` across, 0..1 up) over the threshold bands; gaps where no risk."""
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    for low, high, band in threshold_bands(thresholds):
        painter.setBrush(band_colour(band))
        painter.drawRect(
            QRectF(
                rect.left(), rect.bottom() - high * rect.height(), rect.width(), (high - low) * rect.height()
            )
        )
    span = max(t1 - t0, 1e-6)
    path = QPainterPath()
    drawing = False
    for t, risk in points:
        if risk is None:
            drawing = False
            continue
        point = QPointF(
            rect.left() + (t - t0) / span * rect.width(),
            rect.bottom() - max(0.0, min(1.0, risk)) * rect.height(),
        )
        if drawing:
            path.lineTo(point)
        else:
            path.moveTo(point)
            drawing = True
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(colour, 1.6))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(path)
    painter.setPen(QPen(QColor(160, 160, 160), 1))
    painter.drawRect(rect.adjusted(0, 0, -1, -1))
    painter.restore()
