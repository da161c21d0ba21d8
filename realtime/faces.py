"""Face detection with MediaPipe's BlazeFace models, on any mediapipe from 0.10.21 on.

Why BlazeFace and not the 478-point mesh at run time: its six keypoints are enough for the
similarity alignment in :mod:`realtime.crop`, and it costs a few ms a frame on two CPU cores, which
leaves the budget to the detector.

Two ways to run it, picked once per detector: mediapipe 0.10.21's ``solutions.face_detection`` (the
graph the shipped model's training crops came from) where it exists, else the Tasks API
(``mediapipe.tasks.python.vision.FaceDetector``, every release since) on the same model files, read
out of the 0.10.21 wheel by :mod:`realtime.face_models`. 0.10.21's own Tasks API cannot run the
full-range model (its box tensor has another shape), hence two paths. How far apart they land is
measured in BENCHMARKS.md ("MediaPipe Tasks vs 0.10.21").
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime import face_models
from realtime.errors import UserError
from realtime.native_log import quiet_native_stderr

MEDIAPIPE_VERSION = "0.10.21"  # the release whose face models (and graph) the detector was trained on
MODEL_FILES = {"full": face_models.FACE_DETECTION_FULL, "short": face_models.FACE_DETECTION_SHORT}


@dataclass
class Detection:
    """One face in one frame: pixel box ``(x0, y0, x1, y1)``, six keypoints ``(6, 2)``, score."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])


def import_mediapipe() -> Any:
    """The ``mediapipe`` module, or one clear error that says how to install it."""
    try:
        import mediapipe as mp
    except ImportError as exc:
        raise UserError(f"mediapipe is not installed ({exc}); pip install mediapipe") from None
    return mp


def has_solutions(mp: Any) -> bool:
    """True where mediapipe still has the legacy ``solutions`` graphs (0.10.21 and older)."""
    solutions = getattr(mp, "solutions", None)
    return solutions is not None and hasattr(solutions, "face_detection")


def tasks_vision(mp: Any) -> Any:
    """``mediapipe.tasks.python.vision``, or one clear error on a release without it."""
    try:
        from mediapipe.tasks.python import vision
    except ImportError as exc:
        raise UserError(
            f"mediapipe {getattr(mp, '__version__', '?')} has neither the face_detection solution nor "
            f"the Tasks API ({exc}); pip install --upgrade mediapipe"
        ) from None
    return vision


def tasks_base_options(model_file: face_models.ModelFile) -> Any:
    """Tasks ``BaseOptions`` reading ``model_file`` from memory (no path encoding issues)."""
    from mediapipe.tasks.python import BaseOptions

    return BaseOptions(model_asset_buffer=face_models.model_path(model_file).read_bytes())


Raw = list[tuple[tuple[float, float, float, float], list[tuple[float, float]], float]]


class FaceDetector:
    """MediaPipe face detection on RGB frames, returning pixel-space detections.

    ``model``: ``"full"`` (full-range model, finds small faces such as a call's grid view, up to
    ~5 m) or ``"short"`` (short-range, faster, faces within ~2 m of a webcam). ``api`` is
    ``"solutions"`` or ``"tasks"``: which MediaPipe API runs it (see the module docstring).
    """

    def __init__(self, model: str = "full", min_confidence: float = 0.5) -> None:
        if model not in MODEL_FILES:
            raise ValueError(f"model must be 'full' or 'short', not {model!r}")
        mp = import_mediapipe()
        self.model = model
        self._run: Callable[[np.ndarray], Raw]
        if has_solutions(mp):
            self.api = "solutions"
            impl = mp.solutions.face_detection.FaceDetection(
                model_selection=1 if model == "full" else 0, min_detection_confidence=min_confidence
            )
            self._closer = weakref.finalize(self, impl.close)
            _OPEN.add(self)
            self._run = lambda frame: _from_solution(impl.process(frame), frame.shape)
        else:
            self.api = "tasks"
            vision = tasks_vision(mp)
            options = vision.FaceDetectorOptions(
                base_options=tasks_base_options(MODEL_FILES[model]),
                running_mode=vision.RunningMode.IMAGE,
                min_detection_confidence=min_confidence,
            )
            try:
                task = vision.FaceDetector.create_from_options(options)
            except (RuntimeError, ValueError) as exc:
                raise UserError(f"MediaPipe could not load its face model ({exc})") from None
            image_type, srgb = mp.Image, mp.ImageFormat.SRGB
            self._closer = weakref.finalize(self, task.close)
            self._closer.atexit = False  # at exit its dispatcher thread is gone: close_open_detectors
            _OPEN.add(self)
            _close_before_thread_pools_stop()
            self._run = lambda frame: _from_task(
                task.detect(image_type(image_format=srgb, data=frame)), frame.shape
            )

    def __call__(self, frame_rgb: np.ndarray) -> list[Detection]:
        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(f"expected a uint8 RGB frame (H, W, 3), got {frame_rgb.dtype} {frame_rgb.shape}")
        detections: list[Detection] = []
        for box, keypoints, score in self._run(np.ascontiguousarray(frame_rgb)):
            if len(keypoints) != 6:
                continue
            detections.append(
                Detection(
                    box=np.array(box, dtype=np.float32),
                    keypoints=np.array(keypoints, dtype=np.float32),
                    score=score,
                )
            )
        return detections

    def close(self) -> None:
        """Release the native graph (LiteRT says goodbye on fd 2 while it does: kept off)."""
        if self._closer.alive:
            with quiet_native_stderr():
                self._closer()

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_OPEN: weakref.WeakSet[FaceDetector] = weakref.WeakSet()


def close_open_detectors() -> None:
    """Close every detector still open (the CLI calls it before it stops filtering native logs).

    Why: a Tasks detector runs its native calls on a thread pool that Python shuts down *before*
    ``atexit`` handlers run, so a task still open then cannot be closed any more: a finalizer at
    exit fails with "cannot schedule new futures after shutdown", and mediapipe's own ``__del__``
    later with "'NoneType' object is not callable". Closed here (or by the exit hook of
    :func:`_close_before_thread_pools_stop`), nothing is left for either.
    """
    for detector in list(_OPEN):
        detector.close()


@functools.cache
def _close_before_thread_pools_stop() -> None:
    """Run :func:`close_open_detectors` at exit while the tasks' thread pools still work.

    threading's exit hooks run newest first, and the thread pools' own shutdown hook is registered
    when mediapipe first makes one (a task's dispatcher): called after that, ours runs first.
    ``threading._register_atexit`` is private (3.9 and later), hence looked up with getattr.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(close_open_detectors)


def _from_solution(result: Any, shape: tuple[int, ...]) -> Raw:
    """Pixel boxes and keypoints from a ``solutions.face_detection`` result (relative coordinates)."""
    height, width = shape[:2]
    raw: Raw = []
    for det in result.detections or []:
        loc = det.location_data
        rel = loc.relative_bounding_box
        box = (
            rel.xmin * width,
            rel.ymin * height,
            (rel.xmin + rel.width) * width,
            (rel.ymin + rel.height) * height,
        )
        keypoints = [(kp.x * width, kp.y * height) for kp in loc.relative_keypoints]
        raw.append((box, keypoints, float(det.score[0])))
    return raw


def _from_task(result: Any, shape: tuple[int, ...]) -> Raw:
    """Pixel boxes and keypoints from a Tasks ``FaceDetectorResult`` (pixel box, relative keypoints)."""
    height, width = shape[:2]
    raw: Raw = []
    for det in result.detections:
        bb = det.bounding_box
        box = (
            float(bb.origin_x),
            float(bb.origin_y),
            float(bb.origin_x + bb.width),
            float(bb.origin_y + bb.height),
        )
        keypoints = [(kp.x * width, kp.y * height) for kp in det.keypoints]
        raw.append((box, keypoints, float(det.categories[0].score)))
    return raw
