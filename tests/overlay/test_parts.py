"""The overlay's plain-Python parts: sensitivity range, track books, event log, mailbox, display check,
and the monitor command's choice between window and headless."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from engines.artifact import Thresholds, default_model_path, read_onnx_meta
from overlay.display import display_status
from overlay.sensitivity import Sensitivity, threshold_range
from overlay.tracks import EventLog, TrackBook
from overlay.worker import Mailbox
from realtime.events import FaceEvent
from realtime.sinks import FrameResult


def test_sensitivity_range_comes_from_the_shipped_models_calibration() -> None:
    meta = read_onnx_meta(default_model_path())
    calibration = meta.metrics["calibration"]
    low, high = threshold_range(meta.thresholds, meta.metrics)
    real = sorted(calibration["calib_real_scores"])
    assert low == pytest.approx(max(meta.thresholds.suspicious + 0.05, float(np.median(real))), abs=1e-4)
    assert high == pytest.approx(max(real + calibration["calib_fake_scores"]), abs=1e-4)
    assert low < meta.thresholds.fake < high
    sens = Sensitivity(meta.thresholds, meta.metrics)
    assert sens.thresholds(sens.default_value).fake == pytest.approx(meta.thresholds.fake, abs=0.002)
    assert sens.fake_level(0) == high and sens.fake_level(100) == low and sens.fake_level(150) == low
    assert sens.thresholds(100).suspicious == meta.thresholds.suspicious  # only the fake level moves


def test_sensitivity_without_calibration_scores() -> None:
    th = Thresholds(real=0.35, suspicious=0.5, fake=0.65)
    assert threshold_range(th, {}) == (pytest.approx(0.55), pytest.approx(0.8))
    tight = Thresholds(real=0.35, suspicious=0.5, fake=0.52)
    low, high = threshold_range(
        tight, {"calibration": {"calib_real_scores": [0.1, 0.2], "calib_fake_scores": [0.3]}}
    )
    assert low == pytest.approx(0.52) and high - low >= 0.04  # the model's own level always fits


def _event(
    t: float, state: str, risk: float | None, track: int = 1, quality: list[str] | None = None
) -> FaceEvent:
    reason = None if state != "uncertain" else ("warming_up" if risk is None else "undecided")
    return FaceEvent(
        t,
        int(t * 30),
        track,
        (1.0, 2.0, 3.0, 4.0),
        risk,
        risk,
        state,
        reason,
        quality or [],
        risk is not None,
    )


def test_track_book_logs_changes_alerts_and_keeps_a_minute_of_sparkline() -> None:
    book = TrackBook()
    book.new_source("clip.mp4")
    changes = [
        book.add(_event(i / 30, "uncertain" if i < 30 else "fake", None if i < 15 else 0.7))
        for i in range(3000)
    ]
    made = [c for c in changes if c is not None]
    assert [(c.old, c.new) for c in made] == [(None, "uncertain"), ("uncertain", "fake")]
    assert book.alerts == [made[1]] and book.faces[(0, 1)].went_fake == 1
    spark = book.faces[(0, 1)].spark
    assert spark[-1][0] - spark[0][0] <= 60.0 and len(spark) <= 601
    history = book.faces[(0, 1)].history
    assert history[0][0] == 0.0 and len(history) == pytest.approx(100 / 0.5, abs=2)
    assert [f.track_id for f in book.current()] == [1]
    book.new_source("camera 0")  # ids restart with the next source: a new segment
    book.add(_event(0.0, "real", 0.1))
    assert [(f.segment, f.track_id) for f in book.all_faces()] == [(0, 1), (1, 1)]
    assert [(f.segment, f.state) for f in book.current()] == [(1, "real")]
    assert "face #1 uncertain -> fake (risk 70%)" in made[1].text()


def test_event_log_round_trips_the_contract_and_stays_bounded() -> None:
    log = EventLog(max_events=5000)
    events = [
        _event(
            i / 30,
            ["uncertain", "real", "suspicious", "fake"][i % 4],
            None if i % 4 == 0 else 0.25 * (i % 4),
            track=i % 3,
        )
        for i in range(9000)
    ]
    events[5].quality = ["too_dark", "low_confidence"]
    for event in events:
        log.add(event, segment=2)
    assert log.dropped == 4096 and len(log) == 9000 - 4096
    rows = log.to_dicts()
    assert rows[-1] == {"segment": 2, **events[-1].to_dict()}
    assert json.loads(json.dumps(rows[0])) == {"segment": 2, **events[4096].to_dict()}
    small = EventLog()
    small.add(events[5])
    assert small.to_dicts()[0]["quality"] == ["too_dark", "low_confidence"]
    assert EventLog().to_dicts() == []


def test_mailbox_hands_over_the_newest_frame_and_every_event() -> None:
    box = Mailbox(max_events=10)
    image = np.zeros((4, 4, 3), np.uint8)
    wakes = [
        box.put(FrameResult(i, i / 30, image, [_event(i / 30, "real", 0.1)]), float(i)) for i in range(4)
    ]
    assert wakes == [True, False, False, False]  # one wake-up until the reader looks
    update = box.take()
    assert update.result is not None and update.result.index == 3 and update.frames == 4
    assert [e.frame for e in update.events] == [0, 1, 2, 3] and update.arrival == 3.0
    assert box.take().result is None
    for i in range(15):
        box.put(FrameResult(i, 0, image, [_event(i / 30, "real", 0.1)]), 0.0)
    update = box.take()
    assert len(update.events) == 10 and update.lost_events == 5


def test_mailbox_under_a_concurrent_writer_loses_nothing() -> None:
    box = Mailbox()
    image = np.zeros((2, 2, 3), np.uint8)
    total = 3000

    def write() -> None:
        for i in range(total):
            event = FaceEvent(i / 30, i, 1, (0.0, 0.0, 1.0, 1.0), 0.1, 0.1, "real")
            box.put(FrameResult(i, i / 30, image, [event]), 0.0)

    writer = threading.Thread(target=write)
    writer.start()
    got: list[int] = []
    while writer.is_alive():
        got += [e.frame for e in box.take().events]
    writer.join()
    got += [e.frame for e in box.take().events]
    assert got == list(range(total))


def test_display_status_reads_the_environment(monkeypatch, tmp_path: Path) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert display_status() == (False, "no display (DISPLAY and WAYLAND_DISPLAY are unset)")
    monkeypatch.setenv("DISPLAY", ":987")
    assert display_status() == (False, "no display: DISPLAY=:987 but no X server answers there")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_status() == (True, "")
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("DISPLAY", "otherhost:0")
    assert display_status() == (True, "")


def test_monitor_window_options_need_a_window(monkeypatch, capfd, carphone: Path) -> None:
    from realtime.cli import main

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["monitor", "--source", str(carphone), "--compact"]) == 2
    err = capfd.readouterr().err.splitlines()
    assert err == [
        "error: --compact need the window, and there is none: no display (DISPLAY and WAYLAND_DISPLAY are "
        "unset) (to run the window without a screen: QT_QPA_PLATFORM=offscreen)"
    ]
    assert main(["monitor", "--source", str(carphone), "--headless", "--report", "r", "--exit-at-end"]) == 2
    assert capfd.readouterr().err.splitlines() == [
        "error: --exit-at-end, --report need the window, and there is none: --headless"
    ]
    assert main(["monitor", "--source", str(carphone), "--report", "/nope/r"]) == 2
    assert capfd.readouterr().err.splitlines() == ["error: --report: folder /nope does not exist"]
