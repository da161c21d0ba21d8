"""Keep native libraries' log chatter off the user's terminal; CallShield's own lines pass untouched.

Where the chatter comes from: MediaPipe logs through absl from its C++ graph threads
(``W0000 00:00:... inference_feedback_manager.cc:114] Feedback manager requires ...``,
``landmark_projection_calculator.cc:186] Using NORM_RECT ...``), and TensorFlow Lite prints
``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``; from 0.10.30 on, LiteRT adds
``INFO: [environment.cc:36] ...`` and ``WARNING: [model_load.cc:402] Sparsity tensors ...``. All
write straight to file descriptor 2, bypassing Python. Environment switches do not help: absl
ignores ``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` before ``absl::InitializeLog()``,
which MediaPipe's Python wheel never calls (measured: the same lines appear with either variable
set). Redirecting fd 2 around single calls is racy, because the graph threads log on their own schedule.

So the CLI, when it runs as the program, points fd 2 at a pipe and a small thread copies what
comes through to the real stderr, line by line, leaving out lines in absl/glog's format at levels
I, W and E and TF Lite's banner. Fatal (``F``) lines and everything else (Python's own writes,
tracebacks of a crash, progress bars) pass unchanged and in order. ``CALLSHIELD_NATIVE_LOGS=1``
turns the filter off for debugging.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import sys
import threading
from collections.abc import Iterator

ENV_SWITCH = "CALLSHIELD_NATIVE_LOGS"

# absl/glog: "W0000 00:00:1795969777.102874   17065 file.cc:114] message" (also glog's "W20250101 ...").
_NATIVE = re.compile(
    rb"^(?:[IWE]\d{4,8} \d\d:\d\d:\d+\.\d+\s+\d+ [^\s:]+:\d+\]"
    rb"|INFO: Created TensorFlow Lite"
    rb"|(?:INFO|WARNING|ERROR): \[[\w.]+:\d+\] "  # LiteRT (mediapipe 0.10.30+): "INFO: [file.cc:36] ..."
    rb"|WARNING: Logging before InitGoogle\(\)"
    rb"|WARNING: Read-only tensor #\d+ "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)"
)
# A partial line that might still become a native one is held this long for its newline.
HOLD_S = 0.05


def is_native_chatter(line: bytes) -> bool:
    """True for a line a native library logged that a user need not see."""
    return bool(_NATIVE.match(line.lstrip(b"\r")))


class NativeLogFilter:
    """fd ``fd`` -> pipe -> filter thread -> the original fd. ``start`` once, ``stop`` once."""

    def __init__(self, fd: int = 2) -> None:
        self.fd = fd
        self.dropped = 0
        self._saved: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        saved = os.dup(self.fd)
        read, write = os.pipe()
        os.dup2(write, self.fd)
        os.close(write)
        self._saved = saved
        self._thread = threading.Thread(
            target=self._pump, args=(read, saved), name="native-log-filter", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Give the fd back its original target; the thread copies what is left, then closes both ends.

        A child process that inherited the pipe may hold it open after we let go; the daemon thread
        then keeps copying until it closes, rather than cut off its last lines.
        """
        if self._saved is None:
            return
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            os.dup2(self._saved, self.fd)  # drops our pipe's last write end: the thread sees EOF
        self._saved = None
        if self._thread is not None:
            self._thread.join(timeout)

    def _pump(self, read: int, out: int) -> None:
        pending = b""
        try:
            while True:
                ready, _, _ = select.select([read], [], [], HOLD_S if pending else None)
                if not ready:  # a partial line that stayed partial is not a log line: let it out
                    _write_all(out, pending)
                    pending = b""
                    continue
                chunk = os.read(read, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                kept = []
                for line in lines:
                    if is_native_chatter(line):
                        self.dropped += 1
                    else:
                        kept.append(line + b"\n")
                if pending and pending.lstrip(b"\r")[:1] not in (b"I", b"W", b"E", b""):
                    kept.append(pending)  # progress bars and prompts go out at once
                    pending = b""
                _write_all(out, b"".join(kept))
            if pending and not is_native_chatter(pending):
                _write_all(out, pending)
        finally:
            os.close(read)
            os.close(out)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return  # the terminal went away: nothing left to tell
        view = view[written:]


@contextlib.contextmanager
def native_logs_filtered(enabled: bool = True) -> Iterator[NativeLogFilter | None]:
    """Filter fd 2 for the duration of the block (no-op when disabled or ``CALLSHIELD_NATIVE_LOGS=1``)."""
    if not enabled or os.environ.get(ENV_SWITCH, "") not in ("", "0"):
        yield None
        return
    try:
        log_filter = NativeLogFilter()
        log_filter.start()
    except OSError:  # no fd 2 (a detached process): nothing to protect
        yield None
        return
    try:
        yield log_filter
    finally:
        log_filter.stop()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide what C++ libraries print straight to file descriptor 2 (MediaPipe/TFLite banners).

    The CLI promises one ``error:`` line on failure and clean output on success; MediaPipe prints
    "Created TensorFlow Lite XNNPACK delegate" and absl warnings on its first use, bypassing Python.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(devnull)
    finally:
        os.close(saved)
