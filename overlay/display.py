"""Whether the overlay window can open here, decided without importing Qt.

``callshield monitor`` shows the window "whenever a display exists" and runs headless otherwise.
Qt itself cannot be asked: on Linux, creating a ``QApplication`` with ``DISPLAY`` pointing nowhere
aborts the whole process. So the answer comes from the environment: PyQt6 installed, and on Linux
an X display whose socket exists or a Wayland socket, or ``QT_QPA_PLATFORM`` naming a platform that
needs no screen (``offscreen``: scripted runs, tests, reports on a server).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

SCREENLESS_PLATFORMS = ("offscreen", "minimal", "vnc")


def _x_display_exists(display: str) -> bool:
    """A local display ``:N`` needs its socket; a remote ``host:N`` is trusted."""
    host, _, rest = display.partition(":")
    if host not in ("", "unix") or not rest:
        return bool(rest)
    number = rest.split(".")[0]
    return number.isdigit() and Path(f"/tmp/.X11-unix/X{number}").exists()


def _wayland_exists(name: str) -> bool:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    return Path(name).is_absolute() and Path(name).exists() or bool(runtime) and Path(runtime, name).exists()


def display_status() -> tuple[bool, str]:
    """``(window possible, why not)``: the reason is what ``monitor`` tells the user once."""
    if importlib.util.find_spec("PyQt6") is None:
        return False, "PyQt6 is not installed (pip install 'callshield[live]')"
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in SCREENLESS_PLATFORMS:
        return True, ""
    if sys.platform in ("darwin", "win32"):
        return True, ""
    display = os.environ.get("DISPLAY", "")
    wayland = os.environ.get("WAYLAND_DISPLAY", "")
    if wayland and _wayland_exists(wayland):
        return True, ""
    if display and _x_display_exists(display):
        return True, ""
    if display:
        return False, f"no display: DISPLAY={display} but no X server answers there"
    return False, "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
