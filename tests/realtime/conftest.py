"""Shared fixtures of the runtime's tests: the real carphone clip and the plumbing ONNX model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.media import carphone_path, read_frames
from tests.realtime.fixture_model import build_plumbing_model, plumbing_meta, probe_feature


@pytest.fixture(scope="session")
def carphone() -> Path:
    return carphone_path()


@pytest.fixture(scope="session")
def carphone_frames(carphone: Path) -> list[np.ndarray]:
    return read_frames(carphone)


@pytest.fixture(scope="session")
def face_detector():
    from realtime.faces import FaceDetector

    detector = FaceDetector("full")
    yield detector
    detector.close()


@pytest.fixture(scope="session")
def carphone_probe_offset(carphone_frames: list[np.ndarray], face_detector) -> float:
    """The plumbing model's feature 0 on carphone's own face crops: its logit is 0 there."""
    from realtime.crop import align_face

    meta = plumbing_meta()
    crops = []
    for frame in carphone_frames[::8]:
        detections = face_detector(frame)
        assert detections, "MediaPipe found no face on a carphone frame"
        crops.append(align_face(frame, detections[0].keypoints, meta.crop))
    return float(probe_feature(meta, np.stack(crops)).mean())


@pytest.fixture(scope="session")
def plumbing_model(tmp_path_factory: pytest.TempPathFactory, carphone_probe_offset: float) -> Path:
    """Brightness-probe model centred on carphone: brighter faces -> p_fake up, darker -> down."""
    path = tmp_path_factory.mktemp("model") / "plumbing.onnx"
    return build_plumbing_model(path, gain=10.0, offset=carphone_probe_offset)


@pytest.fixture(scope="session")
def plumbing_session(plumbing_model: Path):
    """One loaded session for tests that only read from it between ``reset()`` calls."""
    from realtime.session import DetectorSession

    session = DetectorSession.load(plumbing_model)
    yield session
    session.close()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, carphone_frames: list[np.ndarray]) -> dict[str, Path]:
    """Variants of carphone encoded with libx264: brighter, darker, far too dark, and a no-face clip."""
    from tests.media import noise_frames, tint, write_video

    folder = tmp_path_factory.mktemp("clips")
    return {
        "bright": write_video(folder / "bright.mp4", tint(carphone_frames[:60], offset=45)),
        "dark": write_video(folder / "dark.mp4", tint(carphone_frames[:60], gain=0.7)),
        "too_dark": write_video(folder / "too_dark.mp4", tint(carphone_frames[:40], gain=0.25)),
        "noise": write_video(folder / "noise.mp4", noise_frames(30)),
    }


def _scaled(frames: list[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    import cv2

    return [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in frames]


@pytest.fixture(scope="session")
def clip_320(carphone_frames: list[np.ndarray]) -> list[np.ndarray]:
    """carphone at 320x240: a real face, cheap enough to encode in-process at 30 fps."""
    return _scaled(carphone_frames, (320, 240))


@pytest.fixture(scope="session")
def clip_640(carphone_frames: list[np.ndarray]) -> list[np.ndarray]:
    """carphone at 640x480, the size the page and the WebRTC bench send."""
    return _scaled(carphone_frames, (640, 480))
