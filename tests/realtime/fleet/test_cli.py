"""``serve --ray`` as a user runs it: refusals in one ``error:`` line, and a real run (a local Ray
of its own, a WHIP publisher, its events file, Ctrl-C)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest

from realtime.cli import main
from realtime.events import FaceEvent
from tests.realtime.webrtc.peers_helper import ClipTrack, whip_publish
from tests.realtime.webrtc.test_cli import _spawn, _wait_for_line

REPO = Path(__file__).parents[3]


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--ray", "--replicas", "0"], "--replicas must be at least 1"),
        (["serve", "--ray", "127.0.0.1:notaport"], "expected HOST:PORT"),
        (["serve", "--ray", "127.0.0.1:{closed}"], "no Ray cluster answers at 127.0.0.1:{closed}"),
        (
            ["bench", "--webrtc", "--ray", "127.0.0.1:{closed}"],
            "no Ray cluster answers at 127.0.0.1:{closed}",
        ),
    ],
)
def test_bad_ray_arguments_give_one_error_line_before_ray_starts(
    argv: list[str], message: str, capfd
) -> None:
    closed = str(_closed_port())
    argv = [a.replace("{closed}", closed) for a in argv]
    started = time.monotonic()
    assert main(argv) == 2
    err = capfd.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message.replace("{closed}", closed) in err
    assert time.monotonic() - started < 10  # refused up front, not after Ray's minute of retries
    import ray

    assert not ray.is_initialized()


@pytest.mark.parametrize("verb", [["serve", "--ray"], ["bench", "--webrtc", "--ray"]])
def test_ray_flag_without_ray_installed_names_the_install_command(verb: list[str]) -> None:
    # None in sys.modules makes `import ray` fail as it does where Ray is not installed
    code = f"import sys; sys.modules['ray'] = None; from realtime.cli import main; sys.exit(main({verb!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: --ray needs Ray Serve (ray is not installed): pip install 'callshield[fleet]'"
    ]


def test_serve_ray_runs_a_whip_publisher_on_its_own_local_ray_and_stops_on_ctrl_c(
    tmp_path: Path, carphone_frames: list[np.ndarray]
) -> None:
    clip = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_LINEAR) for f in carphone_frames]
    events = tmp_path / "events.jsonl"
    proc = _spawn("serve", "--ray", "--port", "0", "--events", str(events))
    try:
        found = _wait_for_line(
            proc, r"serving (http://127\.0\.0\.1:\d+)/ \(page\).* on (a local Ray.*); Ctrl-C"
        )
        url = found[1]
        assert "1 encoder replica(s) on CPUExecutionProvider" in found[2]

        async def publish() -> str:
            pc, location = await whip_publish(f"{url}/whip", ClipTrack(clip))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (
                not events.exists() or len(events.read_text().splitlines()) < 30
            ):
                await asyncio.sleep(0.1)
            async with aiohttp.ClientSession() as http, http.delete(url + location) as r:
                assert r.status == 200
            await pc.close()
            return location.rsplit("/", 1)[1]

        session = asyncio.run(publish())
        lines = [json.loads(line) for line in events.read_text().splitlines()]
        assert len(lines) >= 30 and {line["peer"] for line in lines} == {session}
        assert FaceEvent.from_dict(lines[-1]).track_id == 1
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped; 1 peers served" in err and "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        line for line in err.splitlines() if line.startswith(("serving ", "stopped; "))
    ], err  # nothing but its own two lines: Ray's notes stay in Ray's log folder
