"""The session report: a PNG of every face's gauge and risk history, and the session's events as JSON.

"Save report" in the window and ``monitor --report FILE`` both write two files next to each other:
``FILE.png`` and ``FILE.json`` (a ``.png`` or ``.json`` ending on FILE is dropped first). The PNG is
painted with the same functions as the live gauges (:mod:`overlay.widgets.paint`), one row per face:
its final state in words and colour, its gauge, and its risk over the whole session over the
threshold bands. The JSON holds the sources, the model and provider, the thresholds in force, the
state changes, the alerts and every event (the JSON Lines contract plus the ``segment``, i.e. which
source it came from). Both are written atomically: an interrupted save leaves no half file.
No frame is saved.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter

from engines.artifact import Thresholds
from overlay.tracks import EventLog, Face, TrackBook
from overlay.widgets.paint import paint_gauge, paint_history, state_colour
from realtime.atomic import atomic_path, write_json_atomic
from realtime.errors import UserError
from realtime.style import STATE_WORDS

WIDTH = 960
HEADER = 92
ROW = 118
LEFT = 250
MARGIN = 16
FORMAT = "callshield-session-report"


def report_paths(target: str | Path) -> tuple[Path, Path]:
    """``(FILE.png, FILE.json)`` for what the user typed."""
    target = Path(target)
    stem = target.with_suffix("") if target.suffix.lower() in (".png", ".json") else target
    return stem.parent / (stem.name + ".png"), stem.parent / (stem.name + ".json")


def _face_label(face: Face, sources: list[str]) -> str:
    if len(sources) > 1 and face.segment < len(sources):
        return f"Face #{face.track_id} ({Path(sources[face.segment]).name})"
    return f"Face #{face.track_id}"


def render_report(book: TrackBook, thresholds: Thresholds, info: dict[str, Any]) -> QImage:
    """The report picture (needs a running QGuiApplication for fonts)."""
    faces = book.all_faces()
    height = HEADER + ROW * max(1, len(faces)) + MARGIN
    image = QImage(WIDTH, height, QImage.Format.Format_RGB32)
    image.fill(QColor(255, 255, 255))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    title = QFont()
    title.setPointSize(14)
    title.setBold(True)
    painter.setFont(title)
    painter.setPen(QColor(20, 20, 20))
    painter.drawText(MARGIN, 30, "CallShield session report")
    body = QFont()
    body.setPointSize(9)
    painter.setFont(body)
    sources = ", ".join(book.sources) or "no source"
    painter.drawText(MARGIN, 52, f"{info.get('created', '')}   source: {sources}")
    painter.drawText(
        MARGIN,
        70,
        f"model {info.get('model', '?')} on {info.get('provider', '?')}   thresholds: real <= "
        f"{thresholds.real:.2f}, suspicious >= {thresholds.suspicious:.2f}, fake >= {thresholds.fake:.2f}   "
        f"alerts: {len(book.alerts)}",
    )
    if not faces:
        painter.drawText(QRectF(0, HEADER, WIDTH, ROW), Qt.AlignmentFlag.AlignCenter, "no face was seen")
    name_font = QFont(body)
    name_font.setBold(True)
    name_font.setPointSize(11)
    for i, face in enumerate(faces):
        top = HEADER + i * ROW
        painter.setPen(QColor(225, 225, 225))
        painter.drawLine(MARGIN, top, WIDTH - MARGIN, top)
        painter.setFont(name_font)
        painter.setPen(QColor(20, 20, 20))
        painter.drawText(MARGIN, top + 24, _face_label(face, book.sources))
        painter.setPen(state_colour(face.state))
        risk = "--" if face.risk is None else f"{round(100 * face.risk)}%"
        painter.drawText(MARGIN, top + 46, f"{STATE_WORDS.get(face.state, face.state)}  {risk}")
        painter.setFont(body)
        painter.setPen(QColor(80, 80, 80))
        seen = f"seen {face.first_t:.1f}-{face.event.t:.1f} s"
        fake_note = f", turned fake {face.went_fake}x" if face.went_fake else ""
        painter.drawText(MARGIN, top + 64, seen + fake_note)
        paint_gauge(
            painter, QRectF(MARGIN, top + 74, LEFT - 2 * MARGIN, 16), face.risk, face.state, thresholds
        )
        chart = QRectF(LEFT, top + 10, WIDTH - LEFT - MARGIN, ROW - 34)
        t0, t1 = face.first_t, max(face.event.t, face.first_t + 1.0)
        paint_history(painter, chart, face.history + [(face.event.t, face.risk)], thresholds, t0, t1)
        painter.setPen(QColor(80, 80, 80))
        painter.drawText(
            QRectF(chart.left(), chart.bottom() + 2, 100, 16), Qt.AlignmentFlag.AlignLeft, f"{t0:.0f} s"
        )
        painter.drawText(
            QRectF(chart.right() - 100, chart.bottom() + 2, 100, 16),
            Qt.AlignmentFlag.AlignRight,
            f"{t1:.0f} s",
        )
    painter.end()
    return image


def report_data(
    book: TrackBook, log: EventLog, thresholds: Thresholds, info: dict[str, Any]
) -> dict[str, Any]:
    """Everything the JSON holds (strict JSON: no NaN)."""

    def change_dict(c: Any) -> dict[str, Any]:
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(c.wall)),
            "t": round(c.t, 3),
            "segment": c.segment,
            "track_id": c.track_id,
            "from": c.old,
            "to": c.new,
            "risk": None if c.risk is None else round(c.risk, 4),
            "why": c.why,
        }

    return {
        "format": FORMAT,
        "version": 1,
        **info,
        "sources": list(book.sources),
        "thresholds": {"real": thresholds.real, "suspicious": thresholds.suspicious, "fake": thresholds.fake},
        "faces": [
            {
                "segment": f.segment,
                "track_id": f.track_id,
                "first_t": round(f.first_t, 3),
                "last_t": round(f.event.t, 3),
                "state": f.state,
                "risk": None if f.risk is None else round(f.risk, 4),
                "turned_fake": f.went_fake,
            }
            for f in book.all_faces()
        ],
        "alerts": [change_dict(c) for c in book.alerts],
        "state_changes": [change_dict(c) for c in book.changes],
        "events_dropped": log.dropped,
        "events": log.to_dicts(),
    }


def write_report(
    target: str | Path, book: TrackBook, log: EventLog, thresholds: Thresholds, info: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``FILE.png`` and ``FILE.json``; a folder that does not exist is one :class:`UserError`."""
    png, json_path = report_paths(target)
    if not png.parent.is_dir():
        raise UserError(f"report: folder {png.parent} does not exist")
    info = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), **info}
    image = render_report(book, thresholds, info)
    with atomic_path(png, suffix=".png") as tmp:
        if not image.save(tmp, "PNG"):
            raise UserError(f"report: could not write {png}")
    write_json_atomic(report_data(book, log, thresholds, info), json_path, allow_nan=False)
    return png, json_path
