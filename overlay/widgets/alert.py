"""The alert banner: a face turned ``fake``. Stays until dismissed, so a glance away does not miss it."""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from realtime.style import state_hex


class AlertBanner(QFrame):
    """Red strip with the latest alert's words and a dismiss button; hidden until the first alert."""

    dismissed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alert")
        self.setStyleSheet(
            f"#alert {{ background: {state_hex('fake')}; border-radius: 4px; }}"
            "#alert QLabel { color: white; font-weight: bold; }"
            "#alert QToolButton { color: white; border: none; font-weight: bold; }"
        )
        self.label = QLabel()
        self.close_button = QToolButton()
        self.close_button.setText("\u2715")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.count = 0
        self.hide()

    def show_alert(self, text: str) -> None:
        self.count += 1
        self.label.setText(text if self.count == 1 else f"{text}   ({self.count} alerts)")
        self.show()

    def dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()
