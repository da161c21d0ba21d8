"""The compact mode: a small frameless always-on-top strip, one bar per face, to sit beside a call.

Drag it anywhere by any point of it (there is no title bar). The expand button brings the full window
back; the close button quits like closing the full window.
"""

from __future__ import annotations

from PyQt6.QtCore import QPoint, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from engines.artifact import Thresholds
from overlay.tracks import Face
from overlay.widgets.paint import paint_gauge, state_colour

ROW_HEIGHT = 20
WIDTH = 230


class CompactBar(QWidget):
    """``#id [====gauge====] 62%`` for one face."""

    def __init__(self, thresholds: Thresholds, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.face: Face | None = None
        self.thresholds = thresholds
        self.setFixedHeight(ROW_HEIGHT)

    def set_face(self, face: Face, thresholds: Thresholds) -> None:
        self.face, self.thresholds = face, thresholds
        self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 (Qt's name)
        if self.face is None:
            return
        painter = QPainter(self)
        metrics = painter.fontMetrics()
        label_w = metrics.horizontalAdvance("#000") + 4
        percent_w = metrics.horizontalAdvance("100%") + 4
        h = self.height()
        painter.setPen(state_colour(self.face.state))
        painter.drawText(QRectF(0, 0, label_w, h), Qt.AlignmentFlag.AlignVCenter, f"#{self.face.track_id}")
        gauge = QRectF(label_w, 3, self.width() - label_w - percent_w, h - 6)
        paint_gauge(painter, gauge, self.face.risk, self.face.state, self.thresholds)
        text = "--" if self.face.risk is None else f"{round(100 * self.face.risk)}%"
        painter.setPen(state_colour(self.face.state))
        painter.drawText(
            QRectF(self.width() - percent_w, 0, percent_w, h),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            text,
        )
        painter.end()


class CompactWindow(QWidget):
    """Frameless, always on top, draggable; ``expand`` asks for the full window back."""

    expand = pyqtSignal()
    close_requested = pyqtSignal()

    def __init__(self, thresholds: Thresholds, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlags(
            Qt.WindowType.Window
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.Tool
        )
        self.setWindowTitle("CallShield")
        self.setObjectName("compact")
        self.setStyleSheet("#compact { background: #202020; } QLabel { color: #dddddd; }")
        self.thresholds = thresholds
        self.bars: dict[int, CompactBar] = {}
        self._drag_from: QPoint | None = None
        self.status = QLabel("CallShield")
        expand = QToolButton()
        expand.setText("\u2922")
        expand.setToolTip("Full window")
        expand.clicked.connect(self.expand.emit)
        close = QToolButton()
        close.setText("\u2715")
        close.setToolTip("Quit CallShield")
        close.clicked.connect(self.close_requested.emit)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.status, 1)
        head.addWidget(expand)
        head.addWidget(close)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(3)
        layout.addLayout(head)
        layout.addLayout(self.rows)
        self.setFixedWidth(WIDTH)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(WIDTH, 40 + ROW_HEIGHT * max(1, len(self.bars)))

    def set_faces(self, faces: list[Face], thresholds: Thresholds) -> None:
        ids = [f.track_id for f in faces]
        for track_id in [t for t in self.bars if t not in ids]:
            bar = self.bars.pop(track_id)
            self.rows.removeWidget(bar)
            bar.deleteLater()
        for face in faces:
            if face.track_id not in self.bars:
                self.bars[face.track_id] = CompactBar(thresholds, self)
                self.rows.addWidget(self.bars[face.track_id])
            self.bars[face.track_id].set_face(face, thresholds)
        self.status.setText("no face yet" if not faces else f"{len(faces)} face(s)")
        self.adjustSize()

    # dragging: the whole window is the handle
    def mousePressEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.globalPosition().toPoint() - self.frameGeometry().topLeft()
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        if event is not None and self._drag_from is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.move(event.globalPosition().toPoint() - self._drag_from)
            event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:  # noqa: N802
        self._drag_from = None
