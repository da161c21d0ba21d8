"""The overlay's tests run PyQt6 off-screen (no display needed) on the real pipeline and real clips.

``qapp_args`` makes pytest-qt create the QApplication with ``-platform offscreen`` instead of
setting ``QT_QPA_PLATFORM`` for the whole session (which would make ``monitor`` tests in the same
run open windows). The runtime's fixtures (the carphone clip, the plumbing model and its session,
the tinted clips) are shared from tests/realtime/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("PyQt6.QtWidgets", reason="the overlay needs PyQt6 (pip install 'callshield[live]')")

from tests.realtime.conftest import (  # noqa: E402,F401 (fixtures, re-exported)
    carphone,
    carphone_frames,
    carphone_probe_offset,
    clips,
    face_detector,
    plumbing_model,
    plumbing_session,
)


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    return ["callshield-tests", "-platform", "offscreen"]


@pytest.fixture
def make_window(qtbot, plumbing_session) -> Iterator[Callable[..., object]]:  # noqa: F811
    """Builds the real window around the shared plumbing session; shuts every one down afterwards."""
    from overlay.app import build_window, install_qt_message_handler
    from overlay.window import OverlayOptions

    install_qt_message_handler()
    made = []
    original = plumbing_session.risk_config.thresholds

    def make(options: OverlayOptions | None = None, session=None):
        window = build_window(session or plumbing_session, options or OverlayOptions())
        qtbot.addWidget(window)
        window.resize(1000, 640)
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown()
    plumbing_session.set_thresholds(original)  # the sensitivity tests move it; other tests share it
