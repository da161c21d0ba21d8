"""The live loop: fan-out to sinks, timing hooks, clean stops (end, max, Ctrl-C, lost camera, closed pipe)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtime.errors import SourceLost
from realtime.events import FaceEvent
from realtime.pipeline import Pipeline
from realtime.sinks import CallbackSink, FrameResult, JsonlSink, Sink
from realtime.sources import CameraSource, Frame, FrameSource, VideoFileSource
from tests.interrupt import ctrl_c_as_in_a_terminal
from tests.realtime.test_sources import _CameraThatStops

STAGES = {"decode", "detect", "align", "encode", "head", "risk"}


class RecordingSink:
    def __init__(self) -> None:
        self.results: list[FrameResult] = []
        self.closed = False

    def consume(self, result: FrameResult) -> None:
        self.results.append(result)

    def close(self) -> None:
        self.closed = True


def test_every_sink_gets_every_frame_with_stage_times(plumbing_session, carphone: Path) -> None:
    plumbing_session.reset()
    first, second = RecordingSink(), RecordingSink()
    buffer = io.StringIO()
    jsonl = JsonlSink(buffer)
    hooked: list[dict[str, float]] = []
    pipeline = Pipeline(
        VideoFileSource(carphone),
        plumbing_session,
        [first, jsonl, second],
        on_frame=lambda r: hooked.append(r.times),
        max_frames=25,
    )
    assert isinstance(first, Sink) and isinstance(jsonl, Sink)
    stats = pipeline.run()
    assert (stats.frames, stats.stopped, stats.events) == (25, "max_frames", 25)
    assert first.closed and second.closed
    assert [r.index for r in first.results] == list(range(25)) == [r.index for r in second.results]
    assert first.results[3].image.shape == (144, 176, 3)
    assert len(hooked) == 25 and all(set(times) == STAGES for times in hooked)
    assert all(times["detect"] > 0 and times["encode"] > 0 for times in hooked)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 25
    events = [FaceEvent.from_json(line) for line in lines]
    assert events[-1].frame == 24 and events[-1].track_id == 1


class _LoopedClip(FrameSource):
    """A sender looping a short clip whose timestamps restart at 0 on every pass (a looped file)."""

    live = True

    def __init__(self, frames: list, passes: int) -> None:
        super().__init__()
        self.frames, self.passes = frames, passes

    def __iter__(self):
        for _ in range(self.passes):
            for index, image in enumerate(self.frames):
                yield Frame(image, index / 30)


def test_a_clock_that_restarts_opens_a_segment_and_the_faces_are_tracked_afresh(
    plumbing_session, carphone_frames
) -> None:
    plumbing_session.reset()
    sink = RecordingSink()
    stats = Pipeline(_LoopedClip(carphone_frames[:40], passes=3), plumbing_session, [sink]).run()
    assert (stats.frames, stats.stopped, stats.segments) == (120, "end", 3)
    assert "3 time segments" in stats.summary()
    results = sink.results
    assert [r.segment for r in results] == [1] * 40 + [2] * 40 + [3] * 40
    times = [r.t for r in results]
    assert all(later > earlier for earlier, later in zip(times, times[1:], strict=False))
    assert times[-1] == pytest.approx(119 / 30)  # one clock: each pass follows the last frame
    assert [r.index for r in results] == list(range(120))  # frames go on counting
    # every frame still gets its face; at each restart the face is a new track, judged afresh
    assert all(len(r.events) == 1 for r in results)
    for start in (40, 80):
        before, after = results[start - 1].events[0], results[start].events[0]
        assert before.state != "uncertain" and after.state == "uncertain"
        assert after.risk is None


def test_a_camera_that_pauses_and_resumes_goes_on_in_a_new_segment(plumbing_session, carphone_frames) -> None:
    plumbing_session.reset()
    fake = _CameraThatStops(carphone_frames[:30], then="fail")
    fake.pause_after, fake.pause_s = 15, 2.5  # the camera stalls (another app grabbed it), then resumes
    source = CameraSource(0, timeout_s=4.0, capture_factory=lambda index: fake)
    sink = RecordingSink()
    pipeline = Pipeline(source, plumbing_session, [sink])
    with pytest.raises(SourceLost):  # the end of the fake camera's frames, 4 s later
        pipeline.run()
    assert pipeline.stats is not None and pipeline.stats.segments == 2
    segments = [r.segment for r in sink.results]
    assert segments[0] == 1 and segments[-1] == 2 and segments == sorted(segments)


def test_lost_camera_closes_everything_then_raises(plumbing_session, carphone_frames) -> None:
    plumbing_session.reset()
    fake = _CameraThatStops(carphone_frames[:20], then="fail")
    source = CameraSource(0, timeout_s=0.4, capture_factory=lambda index: fake)
    sink = RecordingSink()
    pipeline = Pipeline(source, plumbing_session, [sink])
    with pytest.raises(SourceLost, match="camera 0 stopped delivering frames"):
        pipeline.run()
    assert sink.closed and sink.results
    assert pipeline.stats is not None and pipeline.stats.stopped == "source_lost"
    assert fake.released.wait(2.0)


def test_ctrl_c_inside_the_loop_is_a_clean_stop(plumbing_session, carphone: Path) -> None:
    plumbing_session.reset()
    sink = RecordingSink()

    def interrupt_at_10(result: FrameResult) -> None:
        if result.index == 9:
            raise KeyboardInterrupt

    stats = Pipeline(VideoFileSource(carphone), plumbing_session, [sink], on_frame=interrupt_at_10).run()
    assert stats.stopped == "interrupt" and sink.closed and len(sink.results) == 10


def test_stop_from_another_sink(plumbing_session, carphone: Path) -> None:
    plumbing_session.reset()
    holder: list[Pipeline] = []
    stopper = CallbackSink(lambda r: holder[0].stop() if r.index == 4 else None)
    pipeline = Pipeline(VideoFileSource(carphone), plumbing_session, [stopper])
    holder.append(pipeline)
    stats = pipeline.run()
    assert stats.stopped == "stop" and stats.frames == 5


def _monitor_cmd(model: Path, source: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "realtime",
        "monitor",
        "--source",
        str(source),
        "--headless",
        "--model",
        str(model),
        *extra,
    ]


def test_monitor_sigint_ends_cleanly_with_a_summary(plumbing_model: Path, carphone: Path) -> None:
    proc = subprocess.Popen(
        _monitor_cmd(plumbing_model, carphone),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # unbuffered: the first event arrives at once, not with a full pipe buffer near the clip's
        # end (on a loaded machine Ctrl-C then came after the 4-second clip had ended)
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    assert proc.stdout is not None
    first_line = proc.stdout.readline()  # the loop is running: an event came out
    FaceEvent.from_json(first_line)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped: interrupt" in err and "Traceback" not in err
    for line in out.splitlines():
        FaceEvent.from_json(line)


def test_monitor_into_a_closed_pipe_stops_quietly(plumbing_model: Path, carphone: Path) -> None:
    cmd = " ".join(f"'{part}'" for part in _monitor_cmd(plumbing_model, carphone)) + " | head -n 3"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert len(done.stdout.splitlines()) == 3
    assert "stopped: sink_closed" in done.stderr and "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr and "Exception ignored" not in done.stderr


def test_monitor_events_file_and_gui_fallback_note(
    plumbing_model: Path, carphone: Path, tmp_path: Path, capfd, monkeypatch
) -> None:
    from realtime.cli import main

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    events = tmp_path / "events.jsonl"
    code = main(
        [
            "monitor",
            "--source",
            str(carphone),
            "--events",
            str(events),
            "--model",
            str(plumbing_model),
            "--max-frames",
            "12",
        ]
    )
    captured = capfd.readouterr()
    assert code == 0, captured.err
    assert captured.out == ""
    notes = [line for line in captured.err.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: no display (DISPLAY and WAYLAND_DISPLAY are unset); running headless, events as JSON Lines"
    ]
    lines = events.read_text().splitlines()
    assert len(lines) == 12
    assert [json.loads(line)["frame"] for line in lines] == list(range(12))
