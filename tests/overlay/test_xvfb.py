"""One real window: ``callshield monitor`` on a virtual X display (Xvfb, Qt's xcb platform), found
with xdotool and screenshotted from the X server. The PNG is kept in the test's tmp folder
(pytest keeps the last three runs under /tmp/pytest-of-$USER/) as the test's artefact.

Skipped with the reason where Xvfb or xdotool is missing (``apt-get install xvfb xdotool``;
.ci/run installs both).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.overlay.helpers import colour_share

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
    reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)",
)


def test_the_real_window_on_xvfb_shows_a_fake_face_in_red(
    tmp_path: Path, clips, plumbing_model: Path
) -> None:
    from overlay.screenshot import XvfbDisplay, find_window, grab_window, monitor_window, save_png

    report = tmp_path / "report"
    with XvfbDisplay((1280, 800)) as display:
        args = ["--source", str(clips["bright"]), "--model", str(plumbing_model), "--report", str(report)]
        with monitor_window(display, args) as proc:
            window = find_window(display, "CallShield", timeout=30)
            assert window is not None, "no CallShield window appeared on the display"
            deadline = time.monotonic() + 20
            shot = grab_window(display, window)
            while colour_share(shot, "fake") < 0.004 and time.monotonic() < deadline:
                time.sleep(0.3)
                shot = grab_window(display, window)
            save_png(shot, tmp_path / "overlay_xvfb.png")
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert shot.shape[0] >= 400 and shot.shape[1] >= 600
    assert colour_share(shot, "fake") >= 0.004  # red box, gauge, state word and the alert banner
    assert float(np.std(shot)) > 20  # a picture, not a blank window
    assert (tmp_path / "overlay_xvfb.png").stat().st_size > 10_000
    assert "Traceback" not in err and "report: " in err
    assert (tmp_path / "report.json").is_file() and (tmp_path / "report.png").is_file()
