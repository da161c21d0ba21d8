"""The window on the real pipeline (MediaPipe + ONNX Runtime) and real clips, off-screen.

The plumbing model (tests/realtime/fixture_model.py) is a real ONNX model whose "p_fake" follows how
bright the face is, centred on carphone: a brightened carphone turns ``fake``, a darkened one
``real``. So the real path of a frame drives the window into known states, and the test checks
what the user would see: pixels of the grabbed widgets and the widgets' state.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from overlay.window import MainWindow
from realtime.sources import CameraSource, VideoFileSource
from tests.overlay.helpers import colour_share, grab_rgb
from tests.realtime.test_sources import _CameraThatStops


def _wait_finished(qtbot, window: MainWindow, timeout_ms: int = 15000) -> list[str]:
    ends: list[str] = []
    window.worker.finished.connect(ends.append)
    qtbot.waitUntil(lambda: bool(ends), timeout=timeout_ms)
    qtbot.wait(50)  # let the last queued update land
    return ends


def test_states_boxes_gauges_and_alert_follow_the_real_pipeline(qtbot, make_window, clips) -> None:
    window = make_window()
    window.show()
    window.start_source(str(clips["bright"]))
    ends = _wait_finished(qtbot, window)
    assert ends == ["end"]
    face = window.book.current()[0]
    assert face.state == "fake" and face.risk is not None and face.risk >= 0.65

    card = window.cards[face.track_id]
    assert card.state_label.text() == "fake"
    assert "#dc2626" in card.state_label.styleSheet()
    gauge = grab_rgb(card.gauge)
    filled = gauge[gauge.shape[0] // 2, : int(gauge.shape[1] * 0.6)]  # left of the needle: the fill
    assert colour_share(filled[None], "fake") > 0.8
    assert not card.why.isVisible()

    video = grab_rgb(window.video)
    assert colour_share(video, "fake") > 0.002  # the box edge and its id tab
    assert colour_share(video, "real") == 0.0

    assert window.banner.isVisible() and "Face #1 looks FAKE" in window.banner.label.text()
    assert colour_share(grab_rgb(window.banner), "fake") > 0.5
    log = window.log_panel.lines()
    assert any("face #1 appeared, uncertain" in line for line in log)
    assert any("-> fake" in line for line in log)
    assert len(window.book.alerts) == 1

    # Another source from the window: a darkened clip, which the same model calls real.
    window.open_source(str(clips["dark"]))
    ends = _wait_finished(qtbot, window)
    assert ends[-1] == "end"
    faces = window.book.current()
    assert [f.segment for f in faces] == [1] and faces[0].state == "real"
    card = window.cards[faces[0].track_id]
    assert card.state_label.text() == "real" and "#2ea043" in card.state_label.styleSheet()
    assert colour_share(grab_rgb(window.video), "real") > 0.002
    assert len(window.book.alerts) == 1  # no new alert for a real face


def _pipeline_threads() -> list[threading.Thread]:
    names = ("callshield pipeline", "capture ", "camera-", "virtual camera")
    return [t for t in threading.enumerate() if t.name.startswith(names) and t.is_alive()]


def test_closing_the_window_stops_every_thread_within_a_second(qtbot, make_window, carphone: Path) -> None:
    from tests import vcam_backend

    backend = vcam_backend.register()
    try:
        window = make_window()
        window.show()
        window.start_source(str(carphone))
        qtbot.waitUntil(lambda: window.frames_shown >= 5, timeout=10000)
        window.worker.start_vcam(176, 144, "badge")  # the memory backend: v4l2loopback has no device here
        qtbot.waitUntil(lambda: backend.instances and backend.instances[0].count >= 5, timeout=5000)
        running = {t.name.split(" ")[0] for t in _pipeline_threads()}
        assert {"callshield", "capture", "virtual"} <= running  # pipeline, hub reader, camera output
        start = time.monotonic()
        window.close()
        elapsed = time.monotonic() - start
        assert elapsed < 1.0
        assert _pipeline_threads() == []
        assert window.worker.vcam is None and backend.instances[0].closed.is_set()
    finally:
        vcam_backend.unregister()


def test_a_camera_that_dies_shows_a_message_and_another_source_can_be_picked(
    qtbot, make_window, carphone_frames, carphone: Path
) -> None:
    window = make_window()
    window.show()
    dying = _CameraThatStops(carphone_frames[:40], then="fail")
    window.start_source(source=CameraSource(0, timeout_s=0.4, capture_factory=lambda index: dying))
    qtbot.waitUntil(lambda: bool(window.failure), timeout=10000)
    assert "camera 0 stopped delivering frames" in window.failure
    assert "Pick another source" in window.video.message
    assert window.isVisible() and window.frames_shown > 0
    with_message = grab_rgb(window.video).astype(int)
    window.video.set_message("")
    without = grab_rgb(window.video).astype(int)
    window.video.set_message(window.failure)
    changed = np.abs(with_message - without).sum(axis=-1) > 30
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.size > 20 and rows.min() > with_message.shape[0] // 2  # a strip drawn over the lower half
    assert any("source problem: camera 0 stopped" in line for line in window.log_panel.lines())
    assert _pipeline_threads() == [] or all(t.name.startswith("camera-") for t in _pipeline_threads())

    shown = window.frames_shown
    window.open_source(str(carphone))
    qtbot.waitUntil(lambda: window.frames_shown > shown + 5, timeout=10000)
    assert window.failure == "" and window.video.message == ""
    assert [f.segment for f in window.book.current()] == [1]


def test_pause_stops_analysis_and_resume_goes_on(qtbot, make_window, carphone: Path) -> None:
    window = make_window()
    window.show()
    window.start_source(source=VideoFileSource(carphone, paced=True))
    qtbot.waitUntil(lambda: window.frames_shown >= 3, timeout=10000)
    window.pause_action.setChecked(True)
    qtbot.wait(150)
    frozen = window.frames_shown
    qtbot.wait(500)
    assert window.frames_shown == frozen and window.worker.paused
    assert window.video.paused and window.pause_action.text() == "Resume"
    window.pause_action.setChecked(False)
    qtbot.waitUntil(lambda: window.frames_shown > frozen + 3, timeout=5000)


def test_sensitivity_moves_the_fake_threshold_of_the_running_session(
    qtbot, make_window, carphone: Path, plumbing_session
) -> None:
    window = make_window()
    window.show()
    sensitivity = window.sensitivity
    assert sensitivity.low < plumbing_session.meta.thresholds.fake < sensitivity.high
    window.start_source(str(carphone))
    qtbot.waitUntil(lambda: window.frames_shown >= 3, timeout=10000)
    window.slider.setValue(100)
    assert window.sensitivity_label.text().strip() == f"fake at {round(100 * sensitivity.low)}%"
    shown = window.frames_shown
    qtbot.waitUntil(lambda: window.frames_shown > shown + 2, timeout=5000)
    assert plumbing_session.risk_config.thresholds.fake == pytest.approx(sensitivity.low)
    assert all(
        r.config.thresholds.fake == pytest.approx(sensitivity.low) for r in plumbing_session.risks.values()
    )
    card = next(iter(window.cards.values()))
    assert card.gauge.thresholds.fake == pytest.approx(sensitivity.low)
    window.slider.setValue(0)
    assert window.worker.thresholds.fake == pytest.approx(sensitivity.high)
    window.close()
