"""Native libraries' log chatter stays off the terminal; CallShield's own lines pass, in order.

The subprocess tests run the real CLI the way a user does (``python -m realtime``) and check that
every stderr line is one of CallShield's own, and, with the filter switched off
(``CALLSHIELD_NATIVE_LOGS=1``), that the chatter really is there to filter: without that second
half the first could pass on a machine where MediaPipe happened to be quiet.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtime.native_log import NativeLogFilter, is_native_chatter

REPO = Path(__file__).resolve().parents[2]
CHATTER = [
    b"W0000 00:00:1795969777.102874   17065 inference_feedback_manager.cc:114] Feedback manager requires a "
    b"model with a single signature inference. Disabling support for feedback tensors.",
    b"W0000 00:00:1795969777.216399   17065 landmark_projection_calculator.cc:186] Using NORM_RECT without "
    b"IMAGE_DIMENSIONS is only supported for the square ROI.",
    b"I0000 00:00:1795969777.1   1 gl_context.cc:357] GL version: 3.2",
    b"E20250101 12:00:00.000001  42 some_file.cc:7] an error line",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"INFO: [environment.cc:36] Creating LiteRT environment with options",
    b"WARNING: [model_load.cc:402] Sparsity tensors may not yet be fully supported.",
    b"INFO: [accelerator_registry.cc:43] DestroyAccelerator: ptr=0x7f58d800fc90, name=CpuAccelerator",
    b"WARNING: Logging before InitGoogle() is written to STDERR",
]
OWN = [
    b"error: /nope: no such file",
    b"model callshield-v3 on CPUExecutionProvider",
    b"F0000 00:00:1.0  1 x.cc:1] Check failed: fatal lines stay",
    b"Warning: a word at the start is not a log line",
    b"W0000 is not enough on its own",
]


def test_which_lines_are_chatter() -> None:
    assert all(is_native_chatter(line) for line in CHATTER)
    assert not any(is_native_chatter(line) for line in OWN)


def test_the_filter_keeps_own_lines_in_order_and_lets_partial_lines_out(tmp_path: Path) -> None:
    out_path = tmp_path / "stderr.txt"
    with open(out_path, "wb") as out:
        fd = os.dup(out.fileno())
    log_filter = NativeLogFilter(fd)
    log_filter.start()
    try:
        for own, chatter in zip(OWN, CHATTER, strict=False):
            os.write(fd, chatter + b"\n" + own + b"\n")
        os.write(fd, b"\r 50%|#####     | progress")  # no newline: a progress bar
        time.sleep(0.3)
        assert out_path.read_bytes().endswith(b"\r 50%|#####     | progress")
        os.write(fd, CHATTER[0][:30])  # half a log line, then the rest
        time.sleep(0.01)
        os.write(fd, CHATTER[0][30:] + b"\nlast line\n")
    finally:
        log_filter.stop()
        os.close(fd)
    text = out_path.read_bytes()
    assert text == b"\n".join(OWN) + b"\n\r 50%|#####     | progress" + b"last line\n"
    assert log_filter.dropped == len(OWN) + 1


OWN_LINE = re.compile(
    r"^(model \S+ on \S+|making a manipulated copy .*|monitoring .*|report: .*|window closed: .*|"
    r"\d+ frames in .*|virtual camera: .*|\S+: (uncertain|real|suspicious|fake) .*|"
    r"scoring .*|\s*)$"
)


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    environment.pop("CALLSHIELD_NATIVE_LOGS", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "realtime", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
        env=environment,
    )


def _foreign(stderr: str) -> list[str]:
    lines = [part for line in stderr.splitlines() for part in line.split("\r")]
    return [line for line in lines if not OWN_LINE.match(line)]


@pytest.mark.skipif(
    importlib.util.find_spec("training.manipulate") is None, reason="the demo needs training.manipulate"
)
def test_demo_prints_only_callshields_own_lines(tmp_path: Path, plumbing_model: Path) -> None:
    args = ["demo", "--max-frames", "10", "--model", str(plumbing_model), "--out", str(tmp_path)]
    done = _run(args)
    assert done.returncode == 0, done.stderr
    assert _foreign(done.stderr) == []
    unfiltered = _run(args, CALLSHIELD_NATIVE_LOGS="1")  # the chatter the filter removes is real
    assert any(is_native_chatter(line.encode()) for line in _foreign(unfiltered.stderr))


def test_scan_and_an_offscreen_monitor_window_print_only_callshields_own_lines(
    tmp_path: Path, plumbing_model: Path, carphone: Path
) -> None:
    pytest.importorskip("PyQt6.QtWidgets")
    scan = _run(["scan", str(carphone), "--max-frames", "20", "--model", str(plumbing_model)])
    assert scan.returncode == 0, scan.stderr
    assert _foreign(scan.stderr) == []
    monitor = _run(
        [
            "monitor",
            "--source",
            str(carphone),
            "--model",
            str(plumbing_model),
            "--exit-at-end",
            "--report",
            str(tmp_path / "session"),
        ],
        QT_QPA_PLATFORM="offscreen",
    )
    assert monitor.returncode == 0, monitor.stderr
    assert _foreign(monitor.stderr) == [] and monitor.stdout == ""
    assert (tmp_path / "session.png").stat().st_size > 0 and (tmp_path / "session.json").stat().st_size > 0
