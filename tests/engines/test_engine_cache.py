"""Engine cache keys and compatibility checks (pure Python: runs without TensorRT or a GPU)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from engines.artifact import ModelFileError
from engines.base import load_backend
from engines.engine_cache import (
    EngineCache,
    EngineKey,
    EngineMismatch,
    ShapeProfile,
    check_engine,
    default_cache_dir,
    file_sha256,
    sidecar_path,
)
from tests.engines.model_fixture import FixtureWeights

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def key(**changes: object) -> EngineKey:
    base = {
        "onnx_sha256": "ab" * 32,
        "trt_version": "10.3.0",
        "compute_capability": "8.9",
        "profile": ShapeProfile("encoder", (3, 128, 128), 1, 4, 16),
        "precision": "fp16",
    }
    base.update(changes)
    return EngineKey(**base)  # type: ignore[arg-type]


def test_every_part_of_the_key_changes_the_file_name() -> None:
    names = {
        key().filename(),
        key(onnx_sha256="cd" * 32).filename(),
        key(trt_version="10.4.0").filename(),
        key(compute_capability="9.0").filename(),
        key(profile=ShapeProfile("encoder", (3, 128, 128), 1, 4, 9)).filename(),
        key(profile=ShapeProfile("head", (8, 128), 1, 4, 16)).filename(),
        key(precision="fp32").filename(),
    }
    assert len(names) == 7
    assert key().filename() == key().filename()  # stable
    assert "trt10.3.0-sm89-encoder-fp16" in key().filename()


def test_store_lookup_and_round_trip(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path / "engines")
    assert cache.lookup(key()) is None
    path = cache.store(key(), b"\x00engine-bytes", {"meta": "{}"})
    assert cache.lookup(key()) == path and path.read_bytes() == b"\x00engine-bytes"
    assert json.loads(sidecar_path(path).read_text())["key"] == key().to_dict()
    assert EngineKey.from_dict(key().to_dict()) == key()
    assert cache.lookup(key(compute_capability="8.6")) is None
    assert cache.entries() == [path]
    cache.evict(key())
    assert cache.entries() == [] and not sidecar_path(path).exists()


def test_engine_for_another_gpu_or_version_is_one_clear_error(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    path = cache.store(key(), b"x")
    assert check_engine(path, key()) == {}
    with pytest.raises(EngineMismatch) as info:
        check_engine(path, key(compute_capability="7.5", trt_version="10.5.1"))
    message = str(info.value)
    assert "\n" not in message
    assert "compute capability 8.9, this GPU is 7.5" in message and "TensorRT 10.3.0" in message
    assert isinstance(info.value, ModelFileError)  # CLI verbs turn these into one error line


def test_engine_without_or_with_corrupt_sidecar_is_refused(tmp_path: Path) -> None:
    stray = tmp_path / "model.engine"
    stray.write_bytes(b"x")
    with pytest.raises(EngineMismatch, match="no CallShield sidecar"):
        check_engine(stray, key())
    sidecar_path(stray).write_text("{not json")
    with pytest.raises(EngineMismatch, match="cannot read engine sidecar"):
        check_engine(stray, key())
    sidecar_path(stray).write_text(json.dumps({"key": {"onnx_sha256": "x"}}))
    with pytest.raises(EngineMismatch, match="incomplete"):
        check_engine(stray, key())
    cache = EngineCache(tmp_path)
    sidecar_path(cache.path_for(key())).write_text("{}")
    cache.path_for(key()).write_bytes(b"x")
    assert cache.lookup(key()) is None  # never hands out an engine it cannot vouch for


def test_profile_shapes_and_validation() -> None:
    prof = ShapeProfile("head", (8, 128), 1, 4, 16)
    assert prof.shapes() == ((1, 8, 128), (4, 8, 128), (16, 8, 128))
    assert prof.accepts(16) and not prof.accepts(17)
    with pytest.raises(ValueError):
        ShapeProfile("head", (8, 128), 4, 2, 16)


def test_cache_dir_and_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSHIELD_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "engines"
    monkeypatch.delenv("CALLSHIELD_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "callshield" / "engines"
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    assert file_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_tensorrt_backend_without_tensorrt_says_so(fixture_model: tuple[Path, FixtureWeights]) -> None:
    with pytest.raises(ModelFileError, match="TensorRT is not installed"):
        load_backend(fixture_model[0], backend="tensorrt", device="tensorrt")
    with pytest.raises(ModelFileError, match="NVIDIA GPUs only"):
        load_backend(fixture_model[0], backend="tensorrt", device="cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TRT, reason="needs TensorRT (`import tensorrt` fails here) and an NVIDIA GPU")
def test_tensorrt_builds_caches_and_matches_onnx_runtime(
    tmp_path: Path, fixture_model: tuple[Path, FixtureWeights]
) -> None:
    from engines.tensorrt_backend import TensorRTBackend

    path, ref = fixture_model
    cache = EngineCache(tmp_path / "cache")
    backend = TensorRTBackend.load(path, cache=cache, precision="fp32")
    assert len(cache.entries()) == 2
    crops = np.random.default_rng(0).normal(size=(20, 3, 32, 32)).astype(np.float32)  # > max: chunked
    np.testing.assert_allclose(backend.encode(crops), ref.encode(crops), atol=1e-4)
    windows = np.random.default_rng(1).normal(size=(3, 4, 8)).astype(np.float32)
    np.testing.assert_allclose(backend.head(windows), ref.head(windows), atol=1e-4)
    again = TensorRTBackend.load(path, cache=cache, precision="fp32")  # from cache, no rebuild
    assert again.engine_paths == backend.engine_paths
    direct = load_backend(backend.engine_paths[0], device="tensorrt")
    np.testing.assert_allclose(direct.head(windows), ref.head(windows), atol=1e-4)
