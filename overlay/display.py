"""Whether the overlay window can open here, decided without importing Qt.

``callshield monitor`` shows the window "whenever a display exists" and runs headless otherwise.
Qt itself cannot be asked: on Linux, creating a ``QApplication`` with ``DISPLAY`` pointing nowhere
aborts the whole process. So the answer comes from the environment: PyQt6 installed, and on Linux
an X display whose socket exists or a Wayland socket, or ``QT_QPA_PLATFORM`` naming a platform that
needs no screen (``offscreen``: scripted runs, tests, reports on a server).

A display is not enough: Qt's platform plugin must load too, and on Linux it links against system
libraries that a desktop may lack (Qt 6.5+ needs ``libxcb-cursor0``, which many installs do not
have). Without one, ``QApplication`` prints a page about "could not load the Qt platform plugin"
and aborts the process. :func:`platform_plugin_problem` asks the dynamic loader (``ldd``) first,
so the user gets one line naming the library and the package instead.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
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


_NOT_FOUND = re.compile(r"^\s*(\S+) => not found", re.MULTILINE)
_BROKEN = re.compile(r"error while loading shared libraries: (\S+): (.+)$", re.MULTILINE)


def qt_platform_name() -> str:
    """The platform plugin Qt will load here: ``QT_QPA_PLATFORM``'s, else Wayland's or X11's."""
    asked = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    if asked:
        return asked
    wayland = os.environ.get("WAYLAND_DISPLAY", "")
    return "wayland" if wayland and _wayland_exists(wayland) else "xcb"


def debian_package(soname: str) -> str:
    """Debian's package for a shared library: ``libxcb-cursor.so.0`` -> ``libxcb-cursor0``.

    Debian policy names library packages after the soname, lower case, with a hyphen before the
    version where the name ends in a digit (``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0``).
    """
    name, _, version = Path(soname).name.partition(".so.")
    name = name.lower()
    if not version:
        return name
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


@functools.cache
def missing_platform_libraries(platform: str) -> tuple[tuple[str, str], ...]:
    """``(library, why)`` for each system library Qt's ``platform`` plugin cannot load here.

    Asks ``ldd`` about the plugin PyQt6 ships. Empty off Linux (Qt ships what it needs there), and
    where PyQt6, the plugin or ``ldd`` is not found: nothing better than Qt's own message can be
    said then.
    """
    spec = importlib.util.find_spec("PyQt6")
    ldd = shutil.which("ldd")
    if not sys.platform.startswith("linux") or spec is None or not spec.submodule_search_locations or not ldd:
        return ()
    folder = Path(list(spec.submodule_search_locations)[0]) / "Qt6" / "plugins" / "platforms"
    plugins = sorted(folder.glob(f"libq{platform}.so")) or sorted(folder.glob(f"libq{platform}*.so"))
    if not plugins:
        return ()
    try:
        done = subprocess.run([ldd, str(plugins[0])], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    output = done.stdout + done.stderr
    missing = [(name, "not installed") for name in _NOT_FOUND.findall(output)]
    broken = [(Path(path).name, why.strip()) for path, why in _BROKEN.findall(output)]
    return tuple(missing + broken)


def install_hint(libraries: tuple[tuple[str, str], ...]) -> str:
    """What to run for the missing libraries, and the way around them."""
    packages = " ".join(dict.fromkeys(debian_package(name) for name, _ in libraries))
    return f"sudo apt install {packages} (Debian/Ubuntu), or run without a window: --headless"


def platform_plugin_problem() -> str | None:
    """One line saying which library keeps Qt's platform plugin from loading, and the fix; or None."""
    platform = qt_platform_name()
    libraries = missing_platform_libraries(platform)
    if not libraries:
        return None
    names = ", ".join(f"{name} ({why})" for name, why in libraries)
    return f"the window cannot open: Qt's {platform} platform plugin needs {names}; {install_hint(libraries)}"
