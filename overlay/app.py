"""``callshield monitor`` with a display: the QApplication, the main window and the worker, wired.

The command opens the source and loads the model first (so a bad ``--source`` is one ``error:``
line before any window appears), then hands both here. Qt's own log lines (platform plugins,
fonts, multimedia probing) are kept off the terminal by a message handler; only Qt's critical and
fatal messages get through, as ``warning: qt: ...``. Ctrl-C in the terminal closes the window the
same way its close button does.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import Any

from PyQt6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PyQt6.QtWidgets import QApplication

from overlay.sensitivity import Sensitivity
from overlay.window import MainWindow, OverlayOptions
from overlay.worker import PipelineWorker
from realtime.session import DetectorSession
from realtime.sinks import Sink
from realtime.sources import FrameSource


def _qt_messages(mode: QtMsgType, context: Any, message: str | None) -> None:
    if mode in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
        print(f"warning: qt: {message}", file=sys.stderr, flush=True)


def install_qt_message_handler() -> None:
    qInstallMessageHandler(_qt_messages)


def application(argv: Sequence[str] | None = None) -> QApplication:
    """The process's QApplication (made once), with Qt's chatter silenced."""
    install_qt_message_handler()
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv or ["callshield"]))
    assert isinstance(app, QApplication)
    app.setApplicationName("CallShield")
    app.setQuitOnLastWindowClosed(False)
    return app


def build_window(
    session: DetectorSession, options: OverlayOptions, extra_sinks: Sequence[Sink] = ()
) -> MainWindow:
    """The worker and the window around ``session`` (nothing started yet)."""
    worker = PipelineWorker(session)
    for sink in extra_sinks:
        worker.sinks.add(sink)
    meta = session.meta
    sensitivity = Sensitivity(meta.thresholds, meta.metrics)
    info = {"model": meta.model_version, "provider": session.provider}
    window = MainWindow(worker, sensitivity, info, options)
    worker.setParent(window)
    return window


def run_overlay(
    session: DetectorSession,
    source: FrameSource,
    options: OverlayOptions,
    extra_sinks: Sequence[Sink] = (),
) -> int:
    """Show the window on ``source`` until it is closed; the exit status for the command."""
    app = application()
    window = build_window(session, options, extra_sinks)
    window.closed.connect(app.quit)
    if options.compact:
        window.enter_compact()
    else:
        window.show()
    window.start_source(source=source)
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    heartbeat = QTimer()  # lets Python run its signal handlers while Qt's loop waits
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
    try:
        app.exec()
    finally:
        heartbeat.stop()
        signal.signal(signal.SIGINT, previous)
        window.shutdown()
    print(window.summary(), file=sys.stderr, flush=True)
    return window.exit_code
