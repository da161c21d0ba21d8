"""The main window: live video with boxes, one gauge card per face, alert banner, log, controls.

The GUI thread only draws and keeps books: the :class:`~overlay.worker.PipelineWorker` runs the
detector and wakes the window with a queued signal; :meth:`MainWindow.on_updated` takes everything
that arrived (newest frame, every event), feeds the :class:`~overlay.tracks.TrackBook` (state
changes -> log, ``fake`` -> alert) and repaints. Controls talk to the worker, never to the session.
"""

from __future__ import annotations

import collections
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QScrollArea,
    QSlider,
    QSplitter,
    QSystemTrayIcon,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from overlay.choices import camera_choices, screen_choices
from overlay.report import write_report
from overlay.sensitivity import Sensitivity
from overlay.tracks import EventLog, StateChange, TrackBook
from overlay.widgets.alert import AlertBanner
from overlay.widgets.compact import CompactWindow
from overlay.widgets.gauge import FaceCard
from overlay.widgets.log import LogPanel
from overlay.widgets.paint import state_colour
from overlay.widgets.region import RegionPicker
from overlay.widgets.video import VideoView
from overlay.worker import PipelineWorker
from realtime.annotate import STYLES
from realtime.errors import UserError
from realtime.sources import FrameSource

READOUT_MS = 500


@dataclass
class OverlayOptions:
    """What ``callshield monitor`` asked of the window."""

    compact: bool = False
    exit_at_end: bool = False
    report: Path | None = None
    sound: bool = False
    max_frames: int | None = None


class MainWindow(QMainWindow):
    closed = pyqtSignal()

    def __init__(
        self,
        worker: PipelineWorker,
        sensitivity: Sensitivity,
        info: dict[str, Any],
        options: OverlayOptions | None = None,
    ) -> None:
        super().__init__()
        self.worker = worker
        worker.max_frames = (options or OverlayOptions()).max_frames
        self.sensitivity = sensitivity
        self.info = info
        self.options = options or OverlayOptions()
        self.thresholds = worker.thresholds
        self.book = TrackBook()
        self.log = EventLog()
        self.cards: dict[int, FaceCard] = {}
        self.failure = ""
        self.exit_code = 0
        self.frames_shown = 0
        self._frame_times: collections.deque[float] = collections.deque(maxlen=600)
        self._latencies: collections.deque[float] = collections.deque(maxlen=120)
        self._closing = False
        self._picker: RegionPicker | None = None
        self.setWindowTitle("CallShield")
        self.resize(1180, 720)

        self.video = VideoView()
        self.banner = AlertBanner()
        self.log_panel = LogPanel()
        self.cards_box = QWidget()
        self.cards_layout = QVBoxLayout(self.cards_box)
        self.cards_layout.setContentsMargins(4, 4, 4, 4)
        self.no_faces = QLabel("no face yet")
        self.no_faces.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cards_layout.addWidget(self.no_faces)
        self.cards_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.cards_box)
        scroll.setMinimumWidth(300)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.video)
        top.addWidget(scroll)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.log_panel)
        body.setStretchFactor(0, 4)
        body.setStretchFactor(1, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(body, 1)
        self.setCentralWidget(central)
        self.readout = QLabel()
        self.statusBar().addWidget(self.readout, 1)  # type: ignore[union-attr]
        self.compact = CompactWindow(self.thresholds)
        self.compact.expand.connect(self.leave_compact)
        self.compact.close_requested.connect(self.close)
        self._build_toolbar()
        self.tray = self._make_tray()

        worker.updated.connect(self.on_updated)
        worker.started.connect(self.on_started)
        worker.failed.connect(self.on_failed)
        worker.finished.connect(self.on_finished)
        self.readout_timer = QTimer(self)
        self.readout_timer.timeout.connect(self.update_readout)
        self.readout_timer.start(READOUT_MS)

    # ---------------------------------------------------------------------------- building
    def _build_toolbar(self) -> None:
        bar = QToolBar("controls")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.source_menu = QMenu(self)
        self.source_menu.aboutToShow.connect(self._fill_source_menu)
        self.source_button = QToolButton()
        self.source_button.setText("Source")
        self.source_button.setMenu(self.source_menu)
        self.source_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(self.source_button)
        self.source_label = QLabel("")
        self.source_label.setMaximumWidth(260)
        bar.addWidget(self.source_label)
        bar.addSeparator()
        self.pause_action = QAction("Pause", self)
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(self.set_paused)
        bar.addAction(self.pause_action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Sensitivity "))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setFixedWidth(130)
        self.slider.setValue(self.sensitivity.value_for(self.thresholds.fake))
        self.slider.setToolTip(
            f"moves the fake threshold between {self.sensitivity.high:.2f} (left) and "
            f"{self.sensitivity.low:.2f} (right), the range the model's calibration supports"
        )
        self.slider.valueChanged.connect(self.set_sensitivity)
        bar.addWidget(self.slider)
        self.sensitivity_label = QLabel()
        bar.addWidget(self.sensitivity_label)
        self._show_threshold()
        bar.addSeparator()
        self.vcam_action = QAction("Virtual camera", self)
        self.vcam_action.setCheckable(True)
        self.vcam_action.toggled.connect(self.set_vcam)
        bar.addAction(self.vcam_action)
        self.vcam_style = QComboBox()
        self.vcam_style.addItems(list(STYLES))
        self.vcam_style.currentTextChanged.connect(self._vcam_style_changed)
        bar.addWidget(self.vcam_style)
        bar.addSeparator()
        self.sound_box = QCheckBox("Sound")
        self.sound_box.setChecked(self.options.sound)
        bar.addWidget(self.sound_box)
        self.compact_action = QAction("Compact", self)
        self.compact_action.triggered.connect(self.enter_compact)
        bar.addAction(self.compact_action)
        self.report_action = QAction("Save report", self)
        self.report_action.triggered.connect(self.save_report_dialog)
        bar.addAction(self.report_action)

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        pixmap = QPixmap(32, 32)
        pixmap.fill(state_colour("real"))
        tray = QSystemTrayIcon(QIcon(pixmap), self)
        tray.setToolTip("CallShield")
        tray.show()
        return tray

    def _fill_source_menu(self) -> None:
        menu = self.source_menu
        menu.clear()
        cameras = camera_choices()
        if not cameras:
            none = menu.addAction("No camera found")
            if none is not None:
                none.setEnabled(False)
        for choice in cameras:
            menu.addAction(choice.label, lambda spec=choice.spec: self.open_source(spec))
        menu.addSeparator()
        for choice in screen_choices(QGuiApplication.screens()):
            menu.addAction(choice.label, lambda spec=choice.spec: self.open_source(spec))
        menu.addAction("Screen region (drag over the call window)...", self.pick_region)
        menu.addSeparator()
        menu.addAction("Video file...", self._pick_file)
        menu.addAction("Folder of images...", self._pick_folder)

    # ---------------------------------------------------------------------------- sources
    def start_source(self, spec: str | None = None, source: FrameSource | None = None) -> None:
        """Run on ``spec`` (anything :func:`realtime.sources.open_source` opens) or an opened ``source``.

        The old run is stopped and what it left in the mailbox is booked first, so that no event of
        the old source lands among the new one's (track ids restart with every source).
        """
        self.worker.stop()
        self.on_updated()
        self.book.new_source(source.name if source is not None else str(spec))
        self.worker.start(spec, source)

    def open_source(self, spec: str) -> None:
        """The Source menu's choice: say so, then switch."""
        self.video.set_message(f"opening {spec}...")
        self.log_panel.add_note(f"opening source {spec}")
        self.start_source(spec)

    def pick_region(self) -> RegionPicker:
        screen = self.screen() or QGuiApplication.primaryScreen()
        assert screen is not None
        self._picker = RegionPicker(screen)
        self._picker.picked.connect(self.open_source)
        self._picker.showFullScreen()
        return self._picker

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Video file", "", "Videos (*.mp4 *.mov *.avi *.mkv *.webm);;All files (*)"
        )
        if path:
            self.open_source(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder of images")
        if path:
            self.open_source(path)

    # ---------------------------------------------------------------------------- worker signals
    def on_started(self, name: str) -> None:
        if self.book.sources:
            self.book.sources[-1] = name  # "camera 0" rather than the "0" it was opened by
        self.failure = ""
        self.video.set_message("")
        self.source_label.setText(f" {Path(name).name or name} ")
        self.source_label.setToolTip(name)
        self.setWindowTitle(f"CallShield: {name}")
        self.log_panel.add_note(f"watching {name}")
        self._refresh_faces()

    def on_failed(self, message: str) -> None:
        self.failure = message
        self.video.set_message(f"{message}\nPick another source from the Source menu.")
        self.log_panel.add_note(f"source problem: {message}")

    def on_finished(self, stopped: str) -> None:
        if stopped == "end":
            self.log_panel.add_note("the source ended")
            if not self.failure:
                self.video.set_message("the source ended; pick another from the Source menu")
        if self.options.exit_at_end and stopped in (
            "end",
            "failed",
            "source_lost",
            "sink_closed",
            "max_frames",
        ):
            if self.failure:
                self.exit_code = 3
            QTimer.singleShot(0, self.close)

    def on_updated(self) -> None:
        update = self.worker.take()
        if update.result is None:
            return
        segment = self.book.segment
        for event in update.events:
            self.log.add(event, segment)
            change = self.book.add(event)
            if change is not None:
                self.log_panel.add_change(change)
                if change.new == "fake":
                    self.raise_alert(change)
        if update.lost_events:
            self.log_panel.add_note(f"{update.lost_events} events were dropped (the window was busy)")
        now = time.monotonic()
        self._latencies.append(now - update.arrival)
        self._frame_times.extend([now] * update.frames)
        self.frames_shown += 1
        self.video.set_frame(update.result.image, update.result.events)
        self._refresh_faces()

    def _refresh_faces(self) -> None:
        faces = self.book.current()
        ids = {face.track_id for face in faces}
        for track_id in [t for t in self.cards if t not in ids]:
            card = self.cards.pop(track_id)
            self.cards_layout.removeWidget(card)
            card.deleteLater()
        for face in faces:
            if face.track_id not in self.cards:
                card = FaceCard(face.track_id, self.thresholds)
                self.cards_layout.insertWidget(self._card_position(face.track_id), card)
                self.cards[face.track_id] = card
            self.cards[face.track_id].set_face(face, self.thresholds)
        self.no_faces.setVisible(not faces)
        if self.compact.isVisible():
            self.compact.set_faces(faces, self.thresholds)

    def _card_position(self, track_id: int) -> int:
        return 1 + sum(1 for t in self.cards if t < track_id)

    # ---------------------------------------------------------------------------- alerts
    def raise_alert(self, change: StateChange) -> None:
        clock = time.strftime("%H:%M:%S", time.localtime(change.wall))
        risk = "" if change.risk is None else f" (risk {round(100 * change.risk)}%)"
        text = f"Face #{change.track_id} looks FAKE{risk} at {clock}"
        self.banner.show_alert(text)
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage("CallShield", text, QSystemTrayIcon.MessageIcon.Critical, 10_000)
        if self.sound_box.isChecked():
            QApplication.beep()

    # ---------------------------------------------------------------------------- controls
    def set_paused(self, paused: bool) -> None:
        self.worker.set_paused(paused)
        self.video.set_paused(paused)
        self.pause_action.setText("Resume" if paused else "Pause")
        self.log_panel.add_note("analysis paused" if paused else "analysis resumed")

    def set_sensitivity(self, value: int) -> None:
        self.thresholds = self.sensitivity.thresholds(value)
        self.worker.set_thresholds(self.thresholds)
        self._show_threshold()
        self._refresh_faces()

    def _show_threshold(self) -> None:
        self.sensitivity_label.setText(f" fake at {round(100 * self.thresholds.fake)}% ")

    def set_vcam(self, on: bool) -> None:
        from realtime.vcam import VirtualCameraUnavailable

        if not on:
            if self.worker.vcam is not None:
                self.worker.stop_vcam()
                self.log_panel.add_note("virtual camera off")
            return
        width, height = self.video.frame_size
        width, height = (width - width % 2, height - height % 2) if width and height else (1280, 720)
        try:
            vcam = self.worker.start_vcam(width, height, self.vcam_style.currentText())
        except VirtualCameraUnavailable as exc:
            self.vcam_action.blockSignals(True)
            self.vcam_action.setChecked(False)
            self.vcam_action.blockSignals(False)
            self.log_panel.add_note(f"virtual camera unavailable: {exc}")
            self.statusBar().showMessage("virtual camera unavailable: see the log", 8000)  # type: ignore[union-attr]
            return
        camera = vcam.camera
        self.log_panel.add_note(
            f"virtual camera on: {camera.backend} {camera.device}, {width}x{height}, style {vcam.style}"
        )

    def _vcam_style_changed(self, style: str) -> None:
        if self.worker.vcam is not None:
            self.worker.vcam.style = style

    def enter_compact(self) -> None:
        self.compact.set_faces(self.book.current(), self.thresholds)
        self.compact.show()
        self.hide()

    def leave_compact(self) -> None:
        self.show()
        self.compact.hide()

    # ---------------------------------------------------------------------------- readout
    def update_readout(self) -> None:
        now = time.monotonic()
        recent = [t for t in self._frame_times if t >= now - 2.0]
        fps = len(recent) / 2.0
        latency = sorted(self._latencies)[len(self._latencies) // 2] * 1000 if self._latencies else None
        parts = [f"{fps:.1f} fps", "latency --" if latency is None else f"latency {latency:.0f} ms"]
        parts.append(f"{self.info.get('model', '?')} on {self.info.get('provider', '?')}")
        if self.worker.paused:
            parts.append("paused")
        vcam = self.worker.vcam
        if vcam is not None:
            intervals = vcam.intervals_ms()[-60:]
            rate = 1000.0 / float(intervals.mean()) if intervals.size else 0.0
            parts.append(f"virtual camera {rate:.0f} fps")
        self.readout.setText("  \u00b7  ".join(parts))
        self._latencies.clear()

    # ---------------------------------------------------------------------------- report & close
    def save_report(self, target: str | Path) -> tuple[Path, Path]:
        info = {
            "model": self.info.get("model"),
            "provider": self.info.get("provider"),
            "sensitivity_range": [self.sensitivity.low, self.sensitivity.high],
        }
        return write_report(target, self.book, self.log, self.thresholds, info)

    def save_report_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save report", "callshield-report.png", "PNG + JSON (*.png)"
        )
        if not path:
            return
        try:
            png, js = self.save_report(path)
        except UserError as exc:
            self.log_panel.add_note(f"report not saved: {exc}")
            return
        self.log_panel.add_note(f"report saved: {png} and {js}")

    def summary(self) -> str:
        """One line for the terminal when the window has closed."""
        faces = self.book.all_faces()
        fakes = sum(1 for f in faces if f.went_fake)
        turned = f" ({fakes} face(s) turned fake)" if fakes else ""
        return (
            f"window closed: {self.frames_shown} updates shown, {len(self.log)} events, "
            f"{len(faces)} face(s), {len(self.book.alerts)} alert(s){turned}"
        )

    def shutdown(self) -> bool:
        """Stop every thread (within a second) and write ``--report``; safe to call twice."""
        if self._closing:
            return True
        self._closing = True
        self.readout_timer.stop()
        stopped = self.worker.shutdown(1.0)
        self.compact.close()
        if self._picker is not None:
            self._picker.close()
        if self.tray is not None:
            self.tray.hide()
        if self.options.report is not None:
            try:
                png, js = self.save_report(self.options.report)
                print(f"report: {png} and {js}", file=sys.stderr, flush=True)
            except UserError as exc:
                print(f"error: {exc}", file=sys.stderr, flush=True)
                self.exit_code = self.exit_code or 2
        return stopped

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()
        if event is not None:
            event.accept()
        self.closed.emit()
