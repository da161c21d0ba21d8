"""TensorRT backend: engines built from the ONNX model on the user's own GPU, cached, never shipped.

Like the ONNX Runtime backend, the model's two independent paths become two engines (encoder with a
dynamic number of crops N, head with a dynamic number of windows B), each with its own
optimisation profile, so a call runs only its path. Engines live in :mod:`engines.engine_cache`,
keyed by ONNX sha256 + TensorRT version + compute capability + shape profile + precision; a cached
engine that does not fit this machine is rebuilt, and a user-supplied ``.engine`` that does not fit
is refused with one clear line before TensorRT sees it.

Needs ``tensorrt`` (>= 8.6, name-based tensor API) and torch with CUDA (device buffers, compute
capability). Neither is importable on the CPU machines: everything here imports them lazily.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.artifact import (
    ENCODER_INPUT,
    ENCODER_OUTPUT,
    HEAD_INPUT,
    HEAD_OUTPUT,
    ModelFileError,
    ModelMeta,
)
from engines.base import Backend
from engines.engine_cache import (
    EngineCache,
    EngineKey,
    EngineMismatch,
    ShapeProfile,
    check_engine,
    file_sha256,
    read_sidecar,
)

log = logging.getLogger(__name__)

MAX_FACES = 16  # the encoder profile's N range: 1..16 faces per frame (a 4x4 call grid)
MAX_WINDOWS = 16
PRECISIONS = ("fp16", "fp32")


def import_tensorrt() -> Any:
    """``tensorrt``, or one clear :class:`ModelFileError` saying what to install."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise ModelFileError(
            f"TensorRT is not installed ({exc}); pip install tensorrt (needs an NVIDIA GPU), "
            "or use backend='onnxruntime'"
        ) from None
    major, minor = (int(p) for p in trt.__version__.split(".")[:2])
    if (major, minor) < (8, 6):
        raise ModelFileError(f"TensorRT {trt.__version__} is too old; CallShield needs 8.6 or newer")
    return trt


def cuda_compute_capability() -> str:
    import torch

    if not torch.cuda.is_available():
        raise ModelFileError("TensorRT needs a CUDA GPU, and none is usable here; use backend='onnxruntime'")
    major, minor = torch.cuda.get_device_capability()
    return f"{major}.{minor}"


def shape_profiles(
    meta: ModelMeta, max_faces: int = MAX_FACES, max_windows: int = MAX_WINDOWS
) -> dict[str, ShapeProfile]:
    size = meta.crop.size
    return {
        "encoder": ShapeProfile("encoder", (3, size, size), 1, min(4, max_faces), max_faces),
        "head": ShapeProfile("head", (meta.window, meta.feature_dim), 1, min(4, max_windows), max_windows),
    }


PART_IO = {"encoder": (ENCODER_INPUT, ENCODER_OUTPUT), "head": (HEAD_INPUT, HEAD_OUTPUT)}


def build_engine(trt: Any, onnx_bytes: bytes, profile: ShapeProfile, precision: str) -> bytes:
    """Parse one path's ONNX and build a serialized engine for ``profile`` (minutes on first use)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(f"TensorRT cannot parse the {profile.part} graph: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 30)
    if precision == "fp16" and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    opt = builder.create_optimization_profile()
    opt.set_shape(PART_IO[profile.part][0], *profile.shapes())
    config.add_optimization_profile(opt)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFileError(f"TensorRT failed to build the {profile.part} engine (see its log above)")
    return bytes(serialized)


@dataclass
class _EnginePart:
    """One deserialized engine with its execution context; runs batches within its profile."""

    engine: Any
    context: Any
    profile: ShapeProfile
    input_name: str
    output_name: str

    def run(self, x: np.ndarray) -> np.ndarray:
        import torch

        chunks = [x[i : i + self.profile.max] for i in range(0, len(x), self.profile.max)]
        outs = [self._run_chunk(torch, c) for c in chunks]
        return np.concatenate(outs, axis=0)

    def _run_chunk(self, torch: Any, x: np.ndarray) -> np.ndarray:
        stream = torch.cuda.current_stream()
        inp = torch.from_numpy(np.ascontiguousarray(x)).cuda()
        if not self.context.set_input_shape(self.input_name, tuple(inp.shape)):
            raise ValueError(f"TensorRT rejected input shape {tuple(inp.shape)} ({self.profile.label()})")
        out = torch.empty(
            tuple(self.context.get_tensor_shape(self.output_name)), dtype=torch.float32, device="cuda"
        )
        self.context.set_tensor_address(self.input_name, inp.data_ptr())
        self.context.set_tensor_address(self.output_name, out.data_ptr())
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError(f"TensorRT {self.profile.part} engine failed to execute")
        stream.synchronize()
        result: np.ndarray = out.cpu().numpy()
        return result


def _deserialize(trt: Any, data: bytes, profile: ShapeProfile) -> _EnginePart | None:
    runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        return None
    input_name, output_name = PART_IO[profile.part]
    return _EnginePart(engine, engine.create_execution_context(), profile, input_name, output_name)


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(
        self, meta: ModelMeta, encoder: _EnginePart, head: _EnginePart, provider: str, paths: list[Path]
    ):
        super().__init__(meta, provider)
        self._encoder_part = encoder
        self._head_part = head
        self.engine_paths = paths

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str = "tensorrt",
        cache: EngineCache | None = None,
        precision: str = "fp16",
        max_faces: int = MAX_FACES,
        max_windows: int = MAX_WINDOWS,
    ) -> TensorRTBackend:
        """``path``: the CallShield ``.onnx`` (engines built/cached here) or a cached ``.engine``."""
        path = Path(path)
        if device == "cpu":
            raise ModelFileError("TensorRT runs on NVIDIA GPUs only; use backend='onnxruntime' on CPU")
        if precision not in PRECISIONS:
            raise ModelFileError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if not path.is_file():
            raise ModelFileError(f"model file not found: {path}")
        trt = import_tensorrt()
        cc = cuda_compute_capability()
        if path.suffix.lower() in (".engine", ".plan"):
            return cls._load_engine_files(trt, path, cc)
        return cls._load_onnx(trt, path, cc, cache or EngineCache(), precision, max_faces, max_windows)

    @classmethod
    def _load_onnx(
        cls,
        trt: Any,
        path: Path,
        cc: str,
        cache: EngineCache,
        precision: str,
        max_faces: int,
        max_windows: int,
    ) -> TensorRTBackend:
        from engines.onnx_backend import check_interface, load_onnx_model, meta_from_model, split_paths

        model = load_onnx_model(path)
        meta = meta_from_model(model, path)
        check_interface(model, meta, path)
        sha = file_sha256(path)
        profiles = shape_profiles(meta, max_faces, max_windows)
        keys = {part: EngineKey(sha, trt.__version__, cc, prof, precision) for part, prof in profiles.items()}
        onnx_parts = dict(zip(("encoder", "head"), split_paths(model), strict=True))
        parts_files = {part: key.filename() for part, key in keys.items()}
        loaded: dict[str, _EnginePart] = {}
        for part, key in keys.items():
            cached = cache.lookup(key)
            engine = _deserialize(trt, cached.read_bytes(), key.profile) if cached else None
            if cached and engine is None:
                log.warning("cached TensorRT engine %s does not load; rebuilding it", cached.name)
                cache.evict(key)
            if engine is None:
                log.warning(
                    "building the TensorRT %s engine for this GPU (once; cached in %s)", part, cache.root
                )
                data = build_engine(trt, onnx_parts[part], key.profile, precision)
                cache.store(key, data, {"meta": meta.to_json(), "parts": parts_files, "source": str(path)})
                engine = _deserialize(trt, data, key.profile)
                if engine is None:
                    raise ModelFileError(f"TensorRT built a {part} engine it cannot load back")
            loaded[part] = engine
        paths = [cache.path_for(k) for k in keys.values()]
        return cls(meta, loaded["encoder"], loaded["head"], f"TensorRT {trt.__version__} sm{cc}", paths)

    @classmethod
    def _load_engine_files(cls, trt: Any, path: Path, cc: str) -> TensorRTBackend:
        key, extra = read_sidecar(path)
        if "meta" not in extra or "parts" not in extra:
            raise EngineMismatch(f"{path.name}'s sidecar lacks the model metadata; rebuild from the ONNX")
        meta = ModelMeta.from_json(extra["meta"])
        loaded: dict[str, _EnginePart] = {}
        paths = []
        for part, filename in extra["parts"].items():
            part_path = path.parent / filename
            part_key, _ = read_sidecar(part_path)
            here = EngineKey(part_key.onnx_sha256, trt.__version__, cc, part_key.profile, part_key.precision)
            check_engine(part_path, here)  # clear error for another GPU/TensorRT before deserializing
            engine = _deserialize(trt, part_path.read_bytes(), part_key.profile)
            if engine is None:
                raise EngineMismatch(
                    f"{part_path.name} does not load with TensorRT {trt.__version__}; rebuild it"
                )
            loaded[part] = engine
            paths.append(part_path)
        if set(loaded) != {"encoder", "head"}:
            raise EngineMismatch(f"{path.name}: sidecar names parts {sorted(loaded)}, need encoder and head")
        del key
        return cls(meta, loaded["encoder"], loaded["head"], f"TensorRT {trt.__version__} sm{cc}", paths)

    def _encode(self, crops: np.ndarray) -> np.ndarray:
        return self._encoder_part.run(crops)

    def _head(self, windows: np.ndarray) -> np.ndarray:
        return self._head_part.run(windows).reshape(-1)
