"""Where TensorRT engines built on the user's GPU are kept, and how a cached one is known to fit.

A TensorRT engine is only valid for the exact TensorRT version and GPU architecture that built it,
and for the shape ranges it was built for; loading another one either fails obscurely or crashes.
So engines are never shipped: they are built from the shipped ONNX on first use and cached under
``~/.cache/callshield/engines`` (``$CALLSHIELD_CACHE/engines`` if set), keyed by everything that
makes an engine valid: ONNX sha256 + TensorRT version + GPU compute capability + shape profile +
precision. Each engine has a JSON sidecar holding its key (and the model metadata, which the
engine format cannot carry), so a mismatched engine is refused with one clear line before TensorRT
ever sees it.

Pure Python on purpose: it is tested on machines without TensorRT or a GPU.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engines.artifact import ModelFileError
from realtime.atomic import write_bytes_atomic

SIDECAR_SUFFIX = ".json"
ENGINE_SUFFIX = ".engine"


class EngineMismatch(ModelFileError):
    """A serialized engine that was built for another GPU, TensorRT version, model or shape range."""


@dataclass(frozen=True)
class ShapeProfile:
    """The range of one dynamic (batch) dimension an engine accepts: min <= opt <= max.

    ``part`` names the path ("encoder": N crops of ``size``; "head": B windows of T x D);
    ``fixed`` the static trailing dims, e.g. ``(3, 128, 128)`` or ``(8, 128)``.
    """

    part: str
    fixed: tuple[int, ...]
    min: int = 1
    opt: int = 4
    max: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.opt <= self.max:
            raise ValueError(
                f"shape profile needs 1 <= min <= opt <= max, got {self.min}/{self.opt}/{self.max}"
            )

    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(min, opt, max) full input shapes for TensorRT's optimisation profile."""
        return ((self.min, *self.fixed), (self.opt, *self.fixed), (self.max, *self.fixed))

    def accepts(self, batch: int) -> bool:
        return self.min <= batch <= self.max

    def label(self) -> str:
        return f"{self.part}{'x'.join(map(str, self.fixed))}-b{self.min}-{self.opt}-{self.max}"


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine's validity depends on."""

    onnx_sha256: str
    trt_version: str
    compute_capability: str  # "8.9"
    profile: ShapeProfile
    precision: str = "fp16"

    def filename(self) -> str:
        """Readable and unique: the parts a person checks first, then a digest of the whole key."""
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
        cc = self.compute_capability.replace(".", "")
        return (
            f"{self.onnx_sha256[:16]}-trt{self.trt_version}-sm{cc}-{self.profile.part}-"
            f"{self.precision}-{digest}{ENGINE_SUFFIX}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["profile"]["fixed"] = list(self.profile.fixed)
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> EngineKey:
        try:
            prof = dict(data["profile"])
            prof["fixed"] = tuple(int(v) for v in prof["fixed"])
            return EngineKey(
                onnx_sha256=str(data["onnx_sha256"]),
                trt_version=str(data["trt_version"]),
                compute_capability=str(data["compute_capability"]),
                profile=ShapeProfile(**prof),
                precision=str(data.get("precision", "fp16")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineMismatch(f"engine sidecar is incomplete or corrupt ({exc})") from None

    def mismatch(self, other: EngineKey) -> list[str]:
        """Human-readable differences between the engine's key (self) and what this machine needs."""
        problems = []
        if self.trt_version != other.trt_version:
            problems.append(f"built with TensorRT {self.trt_version}, this is TensorRT {other.trt_version}")
        if self.compute_capability != other.compute_capability:
            problems.append(
                f"built for a GPU of compute capability {self.compute_capability}, "
                f"this GPU is {other.compute_capability}"
            )
        if self.onnx_sha256 != other.onnx_sha256:
            problems.append("built from a different ONNX model")
        if self.profile != other.profile:
            problems.append(f"built for shapes {self.profile.label()}, needed {other.profile.label()}")
        if self.precision != other.precision:
            problems.append(f"built in {self.precision}, needed {other.precision}")
        return problems


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def default_cache_dir() -> Path:
    root = os.environ.get("CALLSHIELD_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "callshield"
    return base / "engines"


def sidecar_path(engine_path: Path) -> Path:
    return engine_path.with_suffix(SIDECAR_SUFFIX)


def read_sidecar(engine_path: str | Path) -> tuple[EngineKey, dict[str, Any]]:
    """(key, extra) stored next to an engine; one clear error if it is missing or unreadable."""
    engine_path = Path(engine_path)
    side = sidecar_path(engine_path)
    if not side.is_file():
        raise EngineMismatch(
            f"{engine_path} has no CallShield sidecar ({side.name}): engines are built from the ONNX "
            "model on this machine, load the .onnx with backend='tensorrt' instead"
        )
    try:
        data = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EngineMismatch(f"cannot read engine sidecar {side}: {exc}") from None
    if not isinstance(data, dict) or "key" not in data:
        raise EngineMismatch(f"engine sidecar {side} has no key")
    return EngineKey.from_dict(data["key"]), dict(data.get("extra", {}))


def check_engine(engine_path: str | Path, wanted: EngineKey) -> dict[str, Any]:
    """Raise :class:`EngineMismatch` (one line) unless the engine was built for ``wanted``."""
    found, extra = read_sidecar(engine_path)
    problems = found.mismatch(wanted)
    if problems:
        raise EngineMismatch(f"{Path(engine_path).name} cannot run here: {'; '.join(problems)}; rebuild it")
    return extra


class EngineCache:
    """A folder of engines named by their :class:`EngineKey`, written atomically."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, key: EngineKey) -> Path:
        return self.root / key.filename()

    def lookup(self, key: EngineKey) -> Path | None:
        """The cached engine for exactly this key, or None (a stale or foreign file is never returned)."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        try:
            check_engine(path, key)
        except EngineMismatch:
            return None
        return path

    def store(self, key: EngineKey, engine: bytes, extra: dict[str, Any] | None = None) -> Path:
        """Write engine + sidecar (sidecar last: an engine without one is never picked up)."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path_for(key)
        write_bytes_atomic(engine, path)
        sidecar = json.dumps({"key": key.to_dict(), "extra": extra or {}}, sort_keys=True, indent=1)
        write_bytes_atomic(sidecar.encode(), sidecar_path(path))
        return path

    def evict(self, key: EngineKey) -> None:
        path = self.path_for(key)
        sidecar_path(path).unlink(missing_ok=True)
        path.unlink(missing_ok=True)

    def entries(self) -> list[Path]:
        return sorted(self.root.glob(f"*{ENGINE_SUFFIX}")) if self.root.is_dir() else []
