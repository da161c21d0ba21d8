"""The log panel: every state change with its time, newest at the bottom, a bounded number of lines."""

from __future__ import annotations

from PyQt6.QtGui import QFontDatabase
from PyQt6.QtWidgets import QPlainTextEdit, QWidget

from overlay.tracks import StateChange

MAX_LINES = 1000


class LogPanel(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlaceholderText("state changes appear here")

    def add_change(self, change: StateChange) -> None:
        self.appendPlainText(change.text())

    def add_note(self, text: str) -> None:
        from time import localtime, strftime

        self.appendPlainText(f"{strftime('%H:%M:%S', localtime())}  {text}")

    def lines(self) -> list[str]:
        return self.toPlainText().splitlines()
