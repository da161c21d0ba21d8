"""One face's gauge card: state in words and colour, why it is uncertain, a 0-100 bar, 60 s of risk.

The bar shows the model's threshold bands (real / uncertain / suspicious / fake, in the shared
state colours) with the smoothed risk filled up to its value, so where the needle sits says both
"how risky" and "how close to the next state". The sparkline keeps the last minute, so a risk that
climbs (a swap switched on mid-call) is visible before the state flips.
"""

from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize
from PyQt6.QtGui import QFont, QPainter, QPaintEvent
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from engines.artifact import Thresholds
from overlay.tracks import SPARK_SECONDS, Face
from overlay.widgets.paint import paint_gauge, paint_history
from realtime.style import STATE_WORDS, state_hex


class RiskGauge(QWidget):
    """The 0-100 bar with threshold bands."""

    def __init__(self, thresholds: Thresholds, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thresholds = thresholds
        self.risk: float | None = None
        self.state = "uncertain"
        self.setMinimumSize(120, 16)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(220, 18)

    def set_value(self, risk: float | None, state: str, thresholds: Thresholds) -> None:
        if (risk, state, thresholds) != (self.risk, self.state, self.thresholds):
            self.risk, self.state, self.thresholds = risk, state, thresholds
            self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802
        painter = QPainter(self)
        paint_gauge(painter, QRectF(self.rect()), self.risk, self.state, self.thresholds)
        painter.end()


class Sparkline(QWidget):
    """The last ``SPARK_SECONDS`` of risk over the threshold bands.

    The time axis grows with the face's history from ``MIN_SPAN_S`` to ``SPARK_SECONDS``, so a face
    seen for five seconds fills the line instead of a sliver at its right end.
    """

    MIN_SPAN_S = 10.0

    def __init__(self, thresholds: Thresholds, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thresholds = thresholds
        self.points: list[tuple[float, float | None]] = []
        self.setMinimumSize(120, 36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(220, 40)

    def set_points(self, points: list[tuple[float, float | None]], thresholds: Thresholds) -> None:
        self.points, self.thresholds = points, thresholds
        self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802
        painter = QPainter(self)
        end = self.points[-1][0] if self.points else 0.0
        seen = end - self.points[0][0] if self.points else 0.0
        span = min(SPARK_SECONDS, max(self.MIN_SPAN_S, seen))
        paint_history(painter, QRectF(self.rect()), self.points, self.thresholds, end - span, end)
        painter.end()


class FaceCard(QFrame):
    """Everything about one face: title, state word, percent, why uncertain, gauge, sparkline."""

    def __init__(self, track_id: int, thresholds: Thresholds, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.track_id = track_id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"face-{track_id}")
        self.title = QLabel(f"Face #{track_id}")
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.state_label = QLabel()
        big = QFont(bold)
        big.setPointSizeF(bold.pointSizeF() * 1.25)
        self.state_label.setFont(big)
        self.percent = QLabel()
        self.why = QLabel()
        self.why.setStyleSheet("color: #555555; font-style: italic;")
        self.why.setWordWrap(True)
        self.gauge = RiskGauge(thresholds)
        self.spark = Sparkline(thresholds)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.state_label)
        top.addWidget(self.percent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.gauge)
        layout.addWidget(self.why)
        layout.addWidget(self.spark)
        self.state = ""

    def set_face(self, face: Face, thresholds: Thresholds) -> None:
        state = face.state
        if state != self.state:
            self.state = state
            self.state_label.setText(STATE_WORDS.get(state, state))
            self.state_label.setStyleSheet(f"color: {state_hex(state)};")
        self.percent.setText("--" if face.risk is None else f"{round(100 * face.risk)}%")
        why = face.why
        self.why.setText(f"why uncertain: {why}" if why else "")
        self.why.setVisible(bool(why))
        self.gauge.set_value(face.risk, state, thresholds)
        self.spark.set_points(list(face.spark), thresholds)
