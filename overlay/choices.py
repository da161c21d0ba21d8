"""What the Source menu offers: the cameras found, each screen, (and a region, a file, a folder).

Every choice is a source *spec* for :func:`realtime.sources.open_source` (``0``, ``screen:x,y,w,h``,
a path), so anything ``open_source`` learns to open (a WebRTC ``whip`` spec) works from the window
too. Cameras are listed without opening them (opening makes a camera's light blink and can take
seconds): on Linux from ``/dev/video*`` and their sysfs names, elsewhere from Qt Multimedia.
CallShield's own virtual camera is left out: reading it back would feed the output into the input.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OWN_CAMERA_NAME = "CallShield"


@dataclass(frozen=True)
class SourceChoice:
    label: str
    spec: str


def linux_cameras(
    dev: Path = Path("/dev"), sysfs: Path = Path("/sys/class/video4linux")
) -> list[SourceChoice]:
    """Capture nodes ``/dev/videoN`` (OpenCV's index N), named from sysfs; metadata nodes skipped."""
    found = []
    for node in dev.glob("video*"):
        match = re.fullmatch(r"video(\d+)", node.name)
        if not match:
            continue
        index = int(match.group(1))
        info = sysfs / node.name
        name = _read(info / "name") or node.name
        if _read(info / "index") not in ("", "0"):  # a UVC camera's second node carries metadata
            continue
        if OWN_CAMERA_NAME.lower() in name.lower():
            continue
        found.append((index, SourceChoice(f"Camera {index}: {name}", str(index))))
    return [choice for _, choice in sorted(found)]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def qt_cameras() -> list[SourceChoice]:
    """Cameras as Qt Multimedia lists them (macOS, Windows): in the order OpenCV numbers them."""
    try:
        from PyQt6.QtMultimedia import QMediaDevices
    except ImportError:
        return []
    return [
        SourceChoice(f"Camera {i}: {device.description()}", str(i))
        for i, device in enumerate(QMediaDevices.videoInputs())
        if OWN_CAMERA_NAME.lower() not in device.description().lower()
    ]


def camera_choices() -> list[SourceChoice]:
    return linux_cameras() if sys.platform.startswith("linux") else qt_cameras()


def screen_choices(screens: list[Any]) -> list[SourceChoice]:
    """One choice per ``QScreen``: its whole area in desktop device pixels."""
    choices = []
    for i, screen in enumerate(screens, start=1):
        geo = screen.geometry()
        ratio = screen.devicePixelRatio()
        x, y = round(geo.x() * ratio), round(geo.y() * ratio)
        w, h = round(geo.width() * ratio), round(geo.height() * ratio)
        name = screen.name() or f"screen {i}"
        choices.append(SourceChoice(f"Screen {i}: {name} ({w}x{h})", f"screen:{x},{y},{w},{h}"))
    return choices
