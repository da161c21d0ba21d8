"""``serve --ray`` as a user runs it: refusals in one ``error:`` line, and a real run (a local Ray
of its own, a WHIP publisher, its events file, Ctrl-C)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.cli import main
from realtime.events import FaceEvent
from tests.realtime.webrtc.test_cli import serve_one_publisher

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
        (["serve", "--replicas", "2"], "--replicas is for --ray"),
        (["bench", "--ray"], "--ray is for --webrtc"),
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
    tmp_path: Path, clip_640: list[np.ndarray]
) -> None:
    events = tmp_path / "events.jsonl"
    found, err = serve_one_publisher(
        ["--ray", "--events", str(events)], clip_640, events, 30, ".* on (a local Ray.*); Ctrl-C"
    )
    assert "1 encoder replica(s) on CPUExecutionProvider" in found[2]
    assert FaceEvent.from_dict(json.loads(events.read_text().splitlines()[-1])).track_id == 1
    assert "stopped; 1 peers served" in err and "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        line for line in err.splitlines() if line.startswith(("serving ", "stopped; "))
    ], err  # nothing but its own two lines: Ray's notes stay in Ray's log folder
