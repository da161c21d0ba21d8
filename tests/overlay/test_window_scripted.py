"""The window fed a scripted event stream through the worker's real sink (no detector needed).

The stream goes in where the pipeline would put it (``worker.sink.consume`` on another thread), so
the mailbox, the queued wake-up, the books and the widgets are all the real ones.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtTest import QTest

from overlay.window import MainWindow
from realtime.sinks import FrameResult
from tests.overlay.helpers import colour_share, grab_rgb, scripted_results

RISING = (
    [("uncertain", None)] * 5 + [("uncertain", 0.45)] * 5 + [("suspicious", 0.55)] * 10 + [("fake", 0.8)] * 10
)


def feed(qtbot, window: MainWindow, results: list[FrameResult]) -> None:
    """Push ``results`` through the worker's sink from a thread of its own, like the pipeline does."""
    before = len(window.log)
    thread = threading.Thread(target=lambda: [window.worker.sink.consume(r) for r in results])
    thread.start()
    thread.join(5)
    expected = before + sum(len(r.events) for r in results)
    qtbot.waitUntil(lambda: len(window.log) == expected, timeout=5000)


def test_a_track_turning_fake_raises_the_alert(qtbot, make_window) -> None:
    window = make_window()
    window.show()
    window.book.new_source("scripted")
    feed(qtbot, window, scripted_results(RISING))
    assert window.banner.isVisible()
    assert window.banner.label.text().startswith("Face #1 looks FAKE (risk 80%) at ")
    assert colour_share(grab_rgb(window.banner), "fake") > 0.5
    changes = [line.split("  ", 1)[1] for line in window.log_panel.lines()]
    assert changes == [
        "face #1 appeared, uncertain: seen too briefly",
        "face #1 uncertain -> suspicious (risk 55%)",
        "face #1 suspicious -> fake (risk 80%)",
    ]
    card = window.cards[1]
    assert card.state_label.text() == "fake" and card.percent.text() == "80%"
    gauge = grab_rgb(card.gauge)
    row = gauge[gauge.shape[0] // 2]
    needle = int(0.8 * gauge.shape[1])
    assert colour_share(row[5 : needle - 4][None], "fake") > 0.9  # filled up to the risk
    assert colour_share(row[needle + 4 : -4][None], "fake") < 0.05  # band colours beyond it
    assert window.tray is None  # no system tray off-screen: the banner is the notification

    # a second face turning fake is a second alert; the first face staying fake is not
    second = scripted_results([("uncertain", None), ("fake", 0.9)], track_id=2, box=(10, 10, 60, 60))
    for result in second:
        result.events += scripted_results([("fake", 0.8)])[0].events
    feed(qtbot, window, second)
    assert len(window.book.alerts) == 2 and window.banner.count == 2
    assert "(2 alerts)" in window.banner.label.text()
    window.banner.dismiss()
    assert not window.banner.isVisible()


def test_uncertain_says_why_in_words_and_grey(qtbot, make_window) -> None:
    window = make_window()
    window.book.new_source("scripted")
    feed(qtbot, window, scripted_results([("uncertain", 0.3)] * 3, quality=["too_dark", "too_small"]))
    card = window.cards[1]
    assert card.state_label.text() == "uncertain" and "#969696" in card.state_label.styleSheet()
    assert card.why.text() == "why uncertain: face too dark, face too small"
    assert not card.why.isHidden()
    video = grab_rgb(window.video)
    assert colour_share(video, "uncertain", tolerance=6) > 0.001  # the grey box
    feed(qtbot, window, scripted_results([("real", 0.2)] * 3))
    assert card.why.isHidden() and card.state_label.text() == "real"


def test_the_video_view_draws_each_box_where_the_event_says(qtbot, make_window) -> None:
    window = make_window()
    window.show()
    window.book.new_source("scripted")
    results = scripted_results([("fake", 0.9)], box=(20, 30, 120, 130))
    results[0].events += scripted_results([("real", 0.1)], track_id=7, box=(200, 100, 300, 200))[0].events
    feed(qtbot, window, results)
    rgb = grab_rgb(window.video)
    target = window.video.picture_rect()
    scale = target.width() / 320

    def at(x: float, y: float) -> np.ndarray:
        return rgb[round(target.top() + y * scale), round(target.left() + x * scale)]

    assert colour_share(at(70, 130)[None, None], "fake", tolerance=30) == 1.0  # bottom edge of box 1
    assert colour_share(at(300, 150)[None, None], "real", tolerance=30) == 1.0  # right edge of box 7
    assert colour_share(at(70, 80)[None, None], "fake", tolerance=30) == 0.0  # inside: the frame shows


def test_report_png_and_json_are_written(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    window.book.new_source("scripted")
    results = scripted_results(RISING)
    feed(qtbot, window, results)
    png, js = window.save_report(tmp_path / "session.png")
    assert (png.name, js.name) == ("session.png", "session.json")
    data = json.loads(js.read_text())
    assert data["format"] == "callshield-session-report" and data["sources"] == ["scripted"]
    assert len(data["events"]) == len(results)
    assert data["events"][-1] == {"segment": 0, **results[-1].events[0].to_dict()}
    assert [a["to"] for a in data["alerts"]] == ["fake"] and data["faces"][0]["state"] == "fake"
    assert data["thresholds"]["fake"] == window.thresholds.fake
    image = QImage(str(png))
    assert not image.isNull() and image.width() == 960
    pixmap_rgb = grab_rgb_from_image(image)
    assert colour_share(pixmap_rgb, "fake") > 0.001  # the gauge fill and the state word
    assert not list(tmp_path.glob(".*"))  # no temp files left behind
    with pytest.raises(Exception, match="does not exist"):
        window.save_report(tmp_path / "missing" / "r.png")


def grab_rgb_from_image(image: QImage) -> np.ndarray:
    from PyQt6.QtWidgets import QLabel

    label = QLabel()
    label.setPixmap(QPixmap.fromImage(image))
    label.resize(image.size())
    return grab_rgb(label)


def test_compact_mode_is_frameless_on_top_draggable_with_a_bar_per_face(qtbot, make_window) -> None:
    window = make_window()
    window.show()
    window.book.new_source("scripted")
    window.compact_action.trigger()
    assert window.compact.isVisible() and not window.isVisible()
    flags = window.compact.windowFlags()
    assert flags & Qt.WindowType.FramelessWindowHint and flags & Qt.WindowType.WindowStaysOnTopHint
    results = scripted_results([("fake", 0.85)])
    results[0].events += scripted_results([("real", 0.15)], track_id=2)[0].events
    feed(qtbot, window, results)
    assert sorted(window.compact.bars) == [1, 2]
    bar = grab_rgb(window.compact.bars[1])
    assert colour_share(bar, "fake") > 0.1
    assert colour_share(grab_rgb(window.compact.bars[2]), "real") > 0.02
    start = window.compact.pos()
    QTest.mousePress(window.compact, Qt.MouseButton.LeftButton, pos=QPoint(20, 8))
    QTest.mouseMove(window.compact, QPoint(60, 38))
    QTest.mouseRelease(window.compact, Qt.MouseButton.LeftButton, pos=QPoint(60, 38))
    assert window.compact.pos() - start == QPoint(40, 30)
    window.compact.expand.emit()
    assert window.isVisible() and not window.compact.isVisible()
    window.enter_compact()
    closed: list[bool] = []
    window.closed.connect(lambda: closed.append(True))
    window.compact.close_requested.emit()  # the strip's close button quits like the window's
    assert closed == [True] and not window.compact.isVisible()


def test_region_picker_turns_a_drag_into_a_screen_spec(qtbot) -> None:
    from PyQt6.QtGui import QGuiApplication

    from overlay.widgets.region import RegionPicker

    screen = QGuiApplication.primaryScreen()
    shot = QPixmap(screen.geometry().size())
    shot.fill(Qt.GlobalColor.darkCyan)
    picker = RegionPicker(screen, shot)
    qtbot.addWidget(picker)
    picker.show()
    picked: list[str] = []
    picker.picked.connect(picked.append)
    QTest.mousePress(picker, Qt.MouseButton.LeftButton, pos=QPoint(110, 90))
    QTest.mouseMove(picker, QPoint(40, 30))
    QTest.mouseRelease(picker, Qt.MouseButton.LeftButton, pos=QPoint(40, 30))  # dragged up-left
    assert picked == ["screen:40,30,70,60"]
    from realtime.sources import parse_screen_spec

    assert parse_screen_spec(picked[0]) == (40, 30, 70, 60)
    picker2 = RegionPicker(screen, shot)
    qtbot.addWidget(picker2)
    picker2.show()
    QTest.mouseClick(picker2, Qt.MouseButton.LeftButton, pos=QPoint(50, 50))  # a click is no region
    assert picker2.isVisible()
    cancelled: list[bool] = []
    picker2.cancelled.connect(lambda: cancelled.append(True))
    QTest.keyClick(picker2, Qt.Key.Key_Escape)
    assert cancelled == [True] and not picker2.isVisible()


def test_source_menu_lists_cameras_screens_region_file_and_folder(qtbot, make_window) -> None:
    window = make_window()
    window._fill_source_menu()
    labels = [a.text() for a in window.source_menu.actions() if a.text()]
    has_cameras = any(Path("/dev").glob("video*"))
    if not has_cameras:
        assert labels[0] == "No camera found" and not window.source_menu.actions()[0].isEnabled()
    assert any(label.startswith("Screen 1: ") for label in labels)
    assert labels[-3:] == [
        "Screen region (drag over the call window)...",
        "Video file...",
        "Folder of images...",
    ]


def test_linux_cameras_reads_dev_and_sysfs(tmp_path: Path) -> None:
    from overlay.choices import linux_cameras

    dev, sysfs = tmp_path / "dev", tmp_path / "sys"
    for n, name, index in [
        (0, "Integrated Camera", "0"),
        (1, "Integrated Camera", "1"),
        (2, "CallShield", "0"),
        (10, "USB cam", "0"),
    ]:
        (dev).mkdir(exist_ok=True)
        (dev / f"video{n}").touch()
        (sysfs / f"video{n}").mkdir(parents=True)
        (sysfs / f"video{n}" / "name").write_text(name + "\n")
        (sysfs / f"video{n}" / "index").write_text(index + "\n")
    (dev / "video-extra").touch()
    choices = linux_cameras(dev, sysfs)
    assert [(c.label, c.spec) for c in choices] == [
        ("Camera 0: Integrated Camera", "0"),
        ("Camera 10: USB cam", "10"),
    ]


def test_the_virtual_camera_switch_says_why_it_cannot_start_here(qtbot, make_window) -> None:
    if any(Path("/dev").glob("video*")):
        pytest.skip("this machine has /dev/video* devices: the missing-backend path cannot be shown")
    window = make_window()
    window.show()
    window.vcam_action.setChecked(True)
    assert not window.vcam_action.isChecked() and window.worker.vcam is None
    note = window.log_panel.lines()[-1]
    assert (
        "virtual camera unavailable: no virtual camera: 'v4l2loopback' backend: No v4l2 loopback device"
        in note
    )
    assert (
        "fix: sudo apt install v4l2loopback-dkms && "
        'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="CallShield"' in note
    )


def test_the_virtual_camera_switch_streams_the_overlays_frames(qtbot, make_window) -> None:
    from tests import vcam_backend

    backend = vcam_backend.register()
    try:
        window = make_window()
        window.show()
        window.book.new_source("scripted")
        feed(qtbot, window, scripted_results([("fake", 0.9)] * 2))
        window.vcam_style.setCurrentText("annotated")
        # only the memory backend is registered besides v4l2loopback, which has no device here
        window.vcam_action.setChecked(True)
        assert window.vcam_action.isChecked() and window.worker.vcam is not None
        feed(qtbot, window, scripted_results([("fake", 0.9)] * 3))
        qtbot.waitUntil(lambda: backend.instances[0].count >= 3, timeout=3000)
        sent = backend.instances[0].frames[-1]
        assert sent.shape == (240, 320, 3)
        assert colour_share(sent, "fake", tolerance=20) > 0.005  # box and gauge burnt in
        window.vcam_action.setChecked(False)
        assert window.worker.vcam is None and backend.instances[0].closed.is_set()
    finally:
        vcam_backend.unregister()
