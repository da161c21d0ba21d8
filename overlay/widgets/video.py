"""The live picture: the newest processed frame, each face boxed in its state's colour with its track id.

Boxes are drawn by Qt at paint time on top of the frame (the frame itself is not copied or
modified), scaled with the frame to the widget's size. A message (a camera that died, a source that
would not open) is drawn over the picture until a new source starts.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from overlay.widgets.paint import state_colour
from realtime.events import FaceEvent


class VideoView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.frame_size = (0, 0)
        self.events: list[FaceEvent] = []
        self.message = ""
        self.paused = False
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(640, 480)

    def set_frame(self, frame: np.ndarray, events: list[FaceEvent]) -> None:
        """Show ``frame`` (uint8 RGB) with ``events``' boxes; the array is wrapped, not copied."""
        frame = np.ascontiguousarray(frame)
        height, width = frame.shape[:2]
        self._array = frame  # keeps the buffer alive as long as the QImage wrapping it
        self.image = QImage(frame.data, width, height, frame.strides[0], QImage.Format.Format_RGB888)  # type: ignore[call-overload]
        self.frame_size = (width, height)
        self.events = events
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self.update()

    def picture_rect(self) -> QRectF:
        """Where the frame is drawn: fitted to the widget, aspect kept, centred."""
        width, height = self.frame_size
        if not width or not height:
            return QRectF()
        scale = min(self.width() / width, self.height() / height)
        w, h = width * scale, height * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 16))
        target = self.picture_rect()
        if self.image is not None and not target.isEmpty():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self.image)
            self._paint_boxes(painter, target)
        if self.paused:
            self._paint_banner(painter, "paused: analysis is off until you resume", top=True)
        if self.message:
            self._paint_banner(painter, self.message, top=False)
        painter.end()

    def _paint_boxes(self, painter: QPainter, target: QRectF) -> None:
        scale = target.width() / max(1, self.frame_size[0])
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for ev in self.events:
            x0, y0, x1, y1 = ev.box
            box = QRectF(
                target.left() + x0 * scale, target.top() + y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale
            )
            colour = state_colour(ev.state)
            painter.setPen(QPen(colour, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(box)
            label = f"#{ev.track_id}"
            tab = QRectF(
                box.left(),
                box.top() - metrics.height() - 4,
                metrics.horizontalAdvance(label) + 10,
                metrics.height() + 4,
            )
            if tab.top() < target.top():
                tab.moveTop(box.top())
            painter.fillRect(tab, colour)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(tab, Qt.AlignmentFlag.AlignCenter, label)

    def _paint_banner(self, painter: QPainter, text: str, top: bool) -> None:
        margin = 12
        rect = QRectF(margin, 0, self.width() - 2 * margin, self.height())
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap
        bound = painter.boundingRect(rect, int(flags), text)
        y = margin if top else self.height() - bound.height() - 16 - margin
        box = QRectF(margin, y, self.width() - 2 * margin, bound.height() + 16)
        painter.fillRect(box, QColor(0, 0, 0, 190))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box.adjusted(8, 8, -8, -8), int(flags), text)
