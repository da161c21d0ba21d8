"""A desktop without one of Qt's system libraries: one clear error, never Qt's abort.

The library is really hidden: in a private mount namespace (``unshare -m``, root only) the real
``libxcb-cursor.so.0`` (Qt 6.5+'s xcb plugin needs it; many desktops lack it) is covered by an
empty file, so the dynamic loader, Qt and CallShield's check all meet it broken, as on a machine
without the package. ``monitor`` on a real X display (Xvfb) must refuse with one ``error:`` line
that names the library and the fix; ``checks`` must say the same; without the mount both are fine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import carphone_path

REPO = Path(__file__).parents[2]
LIBRARY = "libxcb-cursor.so.0"


def _library_path() -> Path | None:
    """Where the loader finds the library for PyQt6's xcb plugin, resolved to the real file."""
    import PyQt6

    plugin = Path(PyQt6.__file__).parent / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    ldd = shutil.which("ldd")
    if not plugin.is_file() or ldd is None:
        return None
    found = re.search(
        rf"{re.escape(LIBRARY)} => (\S+)",
        subprocess.run([ldd, str(plugin)], capture_output=True, text=True).stdout,
    )
    return Path(found[1]).resolve() if found else None


pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's loader and mount namespaces"),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare"),
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (apt-get install xvfb)"),
]


def _run(library: Path | None, display_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m realtime ARGS`` with ``library`` hidden (None: nothing hidden)."""
    command = [sys.executable, "-m", "realtime", *args]
    if library is not None:
        quoted = " ".join(f"'{part}'" for part in command)
        command = ["unshare", "-m", "sh", "-c", f"mount --bind /dev/null '{library}' && exec {quoted}"]
    env = {**display_env, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_monitor_and_checks_name_the_hidden_library_and_the_fix() -> None:
    from overlay.screenshot import XvfbDisplay

    library = _library_path()
    if library is None:
        pytest.skip(f"{LIBRARY} is not installed here (apt-get install libxcb-cursor0): nothing to hide")
    with XvfbDisplay((640, 480)) as display:
        env = {key: value for key, value in display.env().items() if key != "QT_QPA_PLATFORM"}
        monitor = _run(library, env, "monitor", "--source", str(carphone_path()), "--max-frames", "5")
        checks = _run(library, env, "checks", "--no-camera")
        healthy = _run(None, env, "checks", "--no-camera")

    assert monitor.returncode == 2, monitor.stderr  # UserError's code, not SIGABRT's 134
    lines = monitor.stderr.strip().splitlines()
    assert len(lines) == 1, monitor.stderr
    assert lines[0].startswith(f"error: the window cannot open: Qt's xcb platform plugin needs {LIBRARY}")
    assert "sudo apt install libxcb-cursor0" in lines[0] and "--headless" in lines[0]
    assert monitor.stdout == ""

    window = [line for line in checks.stdout.splitlines() if "desktop window" in line]
    assert window and window[0].startswith("absent") and LIBRARY in window[0], checks.stdout
    assert "fix: sudo apt install libxcb-cursor0" in checks.stdout
    healthy_window = [line for line in healthy.stdout.splitlines() if "desktop window" in line]
    assert healthy_window and healthy_window[0].startswith("ok"), healthy.stdout
