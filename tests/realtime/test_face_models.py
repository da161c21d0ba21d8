"""Where MediaPipe's model files come from: the installed package, the cache, or the 0.10.21 wheel."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from realtime import face_models
from realtime.errors import UserError


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CALLSHIELD_CACHE", str(tmp_path / "mine"))
    assert face_models.cache_dir() == tmp_path / "mine" / "mediapipe-0.10.21"
    monkeypatch.delenv("CALLSHIELD_CACHE")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert face_models.cache_dir() == tmp_path / "xdg" / "callshield" / "mediapipe-0.10.21"


def test_every_model_file_is_here_and_matches_its_hash() -> None:
    for model in face_models.ALL_FILES:
        path = face_models.model_path(model)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == model.sha256


def test_fetch_reads_the_files_out_of_the_real_wheel(monkeypatch, tmp_path: Path) -> None:
    """Downloads mediapipe 0.10.21's wheel from PyPI (~35 MB), as a user's first run does."""
    monkeypatch.setenv("CALLSHIELD_CACHE", str(tmp_path))
    target = face_models.fetch(quiet=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(m.name for m in face_models.ALL_FILES)
    assert all(face_models._cached_copy(m) for m in face_models.ALL_FILES)


def test_offline_is_one_error_that_names_the_command(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CALLSHIELD_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip then reaches no index at all, as offline
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    with pytest.raises(UserError, match=r"could not be downloaded .*python -m realtime\.face_models"):
        face_models.fetch(quiet=True)
    assert not any((tmp_path / "empty").glob("*.tflite"))


def test_a_wheel_with_other_files_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    wheel = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for model in face_models.ALL_FILES:
            archive.writestr(model.wheel_path, b"not the model")
    wheel.write_bytes(buffer.getvalue())
    with pytest.raises(UserError, match="does not match its recorded SHA-256"):
        face_models._extract(wheel, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True
    wheel.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not the expected mediapipe wheel"):
        face_models._extract(wheel, tmp_path / "cache")


def test_module_command_prints_each_path() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "realtime.face_models"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert [Path(line).name for line in lines] == [
        m.wheel_path.rsplit("/", 1)[1] for m in face_models.ALL_FILES
    ]
