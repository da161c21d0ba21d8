"""The ``serve`` verb and ``monitor --source whip`` as a user runs them: real processes, real ports.

Bad input gives one ``error:`` line and a non-zero exit, before any model is loaded where possible;
a running ``serve`` takes a WHIP publisher, writes its events and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.cli import main
from realtime.events import FaceEvent
from tests.interrupt import ctrl_c_as_in_a_terminal
from tests.realtime.webrtc.peers_helper import ClipTrack, publish_until_events, whip_publish

REPO = Path(__file__).parents[3]


def _spawn(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "realtime", *argv],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )


def _wait_for_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 60) -> re.Match[str]:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    proc.kill()
    raise AssertionError(f"no line matching {pattern!r}; stderr so far: {''.join(seen)}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--host", "0.0.0.0"], "listening on 0.0.0.0 lets other machines in: give --token"),
        (["serve", "--port", "70000"], "--port must be between 0 and 65535"),
        (["serve", "--max-peers", "0"], "--max-peers must be at least 1"),
        (["serve", "--token", "short"], "--token is too short"),
        (["serve", "--events", "/no/such/folder/e.jsonl"], "--events: folder /no/such/folder does not exist"),
        (["serve", "--tiles", "0"], "--tiles must be auto or at least 1"),
        (["monitor", "--source", "whip:0.0.0.0:9", "--headless"], "give $CALLSHIELD_TOKEN"),
        (["monitor", "--source", "whip:not-a-port", "--headless"], "bad WHIP source 'whip:not-a-port'"),
    ],
)
def test_bad_arguments_give_one_error_line(argv: list[str], message: str, capfd, monkeypatch) -> None:
    monkeypatch.delenv("CALLSHIELD_TOKEN", raising=False)
    assert main(argv) == 2
    err = capfd.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err


def test_port_in_use_and_bad_model_are_one_line_too(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "realtime", "serve", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    assert busy.returncode == 2 and "Traceback" not in busy.stderr
    assert busy.stderr.strip().splitlines() == [busy.stderr.strip()]
    assert busy.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")

    not_a_model = tmp_path / "model.onnx"
    not_a_model.write_text("hello")
    bad = subprocess.run(
        [sys.executable, "-m", "realtime", "serve", "--model", str(not_a_model)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1, (
        bad.stderr
    )


def test_serve_takes_a_whip_publisher_writes_its_events_and_stops_on_ctrl_c(
    tmp_path: Path, clip_320: list[np.ndarray]
) -> None:
    events = tmp_path / "events.jsonl"
    _, err = serve_one_publisher(["--events", str(events)], clip_320, events, 10)
    FaceEvent.from_dict(json.loads(events.read_text().splitlines()[-1]))
    assert "stopped; 1 peers served" in err and "Traceback" not in err


def serve_one_publisher(
    argv: list[str], clip: list[np.ndarray], events: Path, lines: int, ready: str = ""
) -> tuple[re.Match[str], str]:
    """Run ``serve --port 0 ARGV``, publish ``clip`` until ``events`` has ``lines`` lines of that one
    session, DELETE it, Ctrl-C; returns the 'serving' line's match (``ready`` appended to its
    pattern) and stderr after it, once the process exited 0."""
    proc = _spawn("serve", "--port", "0", *argv)
    try:
        found = _wait_for_line(proc, r"serving (http://127\.0\.0\.1:\d+)/ \(page\)" + ready)
        session = asyncio.run(publish_until_events(found[1], clip, events, lines))
        got = [json.loads(line) for line in events.read_text().splitlines()]
        assert len(got) >= lines and {line["peer"] for line in got} == {session}
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    return found, err


def test_monitor_source_whip_analyses_a_published_stream(tmp_path: Path, clip_320: list[np.ndarray]) -> None:
    events = tmp_path / "events.jsonl"
    proc = _spawn(
        "monitor", "--source", "whip:127.0.0.1:0", "--headless", "--max-frames", "20", "--events", str(events)
    )
    try:
        endpoint = _wait_for_line(proc, r"monitoring WHIP ingest at (http://127\.0\.0\.1:\d+/whip)")[1]

        async def publish() -> None:
            pc, _ = await whip_publish(endpoint, ClipTrack(clip_320))
            try:
                await asyncio.get_running_loop().run_in_executor(None, proc.wait, 60)
            finally:
                await pc.close()

        asyncio.run(publish())
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "20 frames" in err and "stopped: max_frames" in err and "Traceback" not in err
    lines = events.read_text().splitlines()
    assert len(lines) >= 15  # one per frame with the face in it
    assert FaceEvent.from_json(lines[-1]).track_id == 1
