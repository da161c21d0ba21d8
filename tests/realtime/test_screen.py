"""Screen capture for real: a virtual X display (Xvfb) showing carphone in a Tk window.

Skipped where Xvfb or tkinter is missing (``apt-get install xvfb``). The display is private to
the test (a free display number, ``-nolisten tcp``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.errors import InputError

SHOW_SCRIPT = textwrap.dedent(
    """
    import glob, sys, tkinter as tk
    paths = sorted(glob.glob(sys.argv[1] + "/*.png"))
    root = tk.Tk()
    root.overrideredirect(True)
    images = [tk.PhotoImage(file=p) for p in paths]
    root.geometry(f"{images[0].width()}x{images[0].height()}+{sys.argv[2]}+{sys.argv[3]}")
    label = tk.Label(root, image=images[0], borderwidth=0, highlightthickness=0)
    label.pack()
    index = [0]
    def tick():
        index[0] = (index[0] + 1) % len(images)
        label.configure(image=images[index[0]])
        root.after(33, tick)
    root.after(33, tick)
    root.after(300, lambda: print("ready", flush=True))
    root.mainloop()
    """
)
WINDOW_X, WINDOW_Y, WINDOW_W, WINDOW_H = 50, 60, 352, 288


@pytest.fixture(scope="module")
def shown_faces(
    tmp_path_factory: pytest.TempPathFactory, carphone_frames
) -> Iterator[tuple[str, list[np.ndarray]]]:
    """A private X display with carphone (2x) playing in a borderless window at a known place."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    try:
        import tkinter  # noqa: F401
    except ImportError:
        pytest.skip("tkinter is not available to draw on the virtual display")
    folder = tmp_path_factory.mktemp("screen")
    shown = [
        cv2.resize(f, (WINDOW_W, WINDOW_H), interpolation=cv2.INTER_LINEAR) for f in carphone_frames[:30]
    ]
    for i, image in enumerate(shown):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    number = next(
        n
        for n in range(90, 200)
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists()
    )
    display = f":{number}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if xvfb.poll() is not None or time.monotonic() > deadline:
            pytest.skip(f"Xvfb did not start on {display}")
        time.sleep(0.05)
    env = {**os.environ, "DISPLAY": display}
    show = subprocess.Popen(
        [sys.executable, "-c", SHOW_SCRIPT, str(folder), str(WINDOW_X), str(WINDOW_Y)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert show.stdout is not None and show.stdout.readline().strip() == "ready"
        yield display, shown
    finally:
        show.terminate()
        show.wait(10)
        xvfb.terminate()
        xvfb.wait(10)


def test_screen_region_is_grabbed_in_rgb_at_the_right_place(shown_faces, monkeypatch) -> None:
    from realtime.sources import ScreenSource

    display, shown = shown_faces
    monkeypatch.setenv("DISPLAY", display)
    source = ScreenSource((WINDOW_X, WINDOW_Y, WINDOW_W, WINDOW_H), fps=30)
    assert source.live
    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == 5:
            break
    source.close()
    image = frames[-1].image
    assert image.dtype == np.uint8 and image.shape == (WINDOW_H, WINDOW_W, 3)
    best = min(np.abs(image.astype(int) - s.astype(int)).mean() for s in shown)
    swapped = min(np.abs(image[..., ::-1].astype(int) - s.astype(int)).mean() for s in shown)
    assert best < 3.0 < swapped  # the window's pixels, in RGB order
    assert np.all(np.diff([f.t for f in frames]) > 0.02)  # paced at <= 30 fps


def test_region_outside_the_desktop_is_refused(shown_faces, monkeypatch) -> None:
    from realtime.sources import ScreenSource

    monkeypatch.setenv("DISPLAY", shown_faces[0])
    with pytest.raises(InputError, match="not inside the desktop"):
        ScreenSource((600, 400, 200, 200))


def test_monitor_on_a_screen_region_scores_the_face_in_it(shown_faces, plumbing_model: Path) -> None:
    display, _ = shown_faces
    region = f"screen:{WINDOW_X},{WINDOW_Y},{WINDOW_W},{WINDOW_H}"
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "realtime",
            "monitor",
            "--source",
            region,
            "--headless",
            "--max-frames",
            "15",
            "--model",
            str(plumbing_model),
        ],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(events) == 15 and {e["track_id"] for e in events} == {1}
    x0, y0, x1, y1 = events[-1]["box"]
    assert 0 <= x0 < x1 <= WINDOW_W and 0 <= y0 < y1 <= WINDOW_H  # region coordinates
    assert events[-1]["scored"] and events[-1]["quality"] == []
    assert time.monotonic() - start < 60
