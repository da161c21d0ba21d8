"""Drag-to-select a screen region (the call window): a frozen, dimmed copy of the screen to draw on.

The picker covers one screen with a still screenshot of it, so the user sees exactly what will be
captured; dragging draws the rectangle, releasing picks it, Escape cancels. The region is returned
in desktop *device* pixels (what screen capture uses), i.e. Qt's logical pixels times the screen's
device pixel ratio, offset by the screen's place on the desktop.
"""

from __future__ import annotations

from PyQt6.QtCore import QPoint, QRect, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QScreen
from PyQt6.QtWidgets import QWidget

from realtime.style import state_hex

MIN_SIDE = 16  # a click without a drag is not a region


class RegionPicker(QWidget):
    picked = pyqtSignal(str)  # a source spec: "screen:x,y,w,h"
    cancelled = pyqtSignal()

    def __init__(self, screen: QScreen, background: QPixmap | None = None) -> None:
        super().__init__(None)
        self.setWindowFlags(
            Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        )
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.screen_ = screen
        self.background = background if background is not None else screen.grabWindow(0)  # type: ignore[arg-type]
        self.setGeometry(screen.geometry())
        self._start: QPoint | None = None
        self._end: QPoint | None = None

    def selection(self) -> QRect:
        if self._start is None or self._end is None:
            return QRect()
        a, b = self._start, self._end
        return QRect(min(a.x(), b.x()), min(a.y(), b.y()), abs(a.x() - b.x()), abs(a.y() - b.y()))

    def spec_for(self, rect: QRect) -> str:
        """``screen:x,y,w,h`` in desktop device pixels for a rectangle in this widget's coordinates."""
        ratio = self.screen_.devicePixelRatio()
        origin = self.screen_.geometry().topLeft()
        x = round((origin.x() + rect.x()) * ratio)
        y = round((origin.y() + rect.y()) * ratio)
        return f"screen:{x},{y},{round(rect.width() * ratio)},{round(rect.height() * ratio)}"

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        if not self.background.isNull():
            painter.drawPixmap(self.rect(), self.background)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 110))
        chosen = self.selection()
        if not chosen.isEmpty():
            if not self.background.isNull():
                ratio = self.background.width() / max(1, self.width())
                source = QRect(
                    round(chosen.x() * ratio),
                    round(chosen.y() * ratio),
                    round(chosen.width() * ratio),
                    round(chosen.height() * ratio),
                )
                painter.drawPixmap(chosen, self.background, source)
            painter.setPen(QPen(QColor(state_hex("real")), 2))
            painter.drawRect(chosen)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(chosen.topLeft() + QPoint(4, -6), f"{chosen.width()} x {chosen.height()}")
        else:
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, "Drag over the call window. Esc cancels."
            )
        painter.end()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            self._start = self._end = event.position().toPoint()
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        if event is not None and self._start is not None:
            self._end = event.position().toPoint()
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        if event is None or self._start is None:
            return
        self._end = event.position().toPoint()
        chosen = self.selection()
        self._start = self._end = None
        if chosen.width() < MIN_SIDE or chosen.height() < MIN_SIDE:
            self.update()
            return
        self.close()
        self.picked.emit(self.spec_for(chosen))

    def keyPressEvent(self, event: QKeyEvent | None) -> None:  # noqa: N802
        if event is not None and event.key() == Qt.Key.Key_Escape:
            self.close()
            self.cancelled.emit()
