"""The one prepared script for a lent GPU machine: ``python -m engines.gpu_check --out DIR``.

A session with the device machine has minutes, not hours, so everything the GPU path needs to
know is measured in one run that writes one JSON (``DIR/gpu_check.json``) and never stops at the
first failure: each part that cannot run here records why, and the rest goes on.

* encoder faces/s at batch 1, 9 and 64 for each backend that can run: PyTorch in FP16 with CUDA
  graphs (one graph per batch size, replayed on a static input), ONNX Runtime's CUDA provider
  when this onnxruntime has it, a TensorRT engine when ``tensorrt`` imports. ``faces_per_s`` is
  the device alone (input already on the GPU); ``host_faces_per_s`` includes copying numpy crops
  in and features out, what the live path pays;
* end-to-end latency of one frame (detect on CPU, align, encode on the GPU, head, risk) with the
  fastest GPU encoder, for one face at 640x480 and a 3x3 gallery at 1280x720
  (:func:`realtime.bench.run_bench`, the ``bench`` verb's own loop);
* streams per GPU at 30 fps for the encoder stage, from the batch-64 throughput: a stream with one
  face sends ``30 / stride`` crops a second (the model encodes a face every ``stride``-th frame).

``--device cpu`` runs the same code on the CPU (eager FP32, no graphs) so the script is tested
where no GPU exists; its figures are not GPU figures and its targets are not judged. The torch
backend runs the shipped model's architecture (``meta.arch``) with freshly initialised weights:
the ONNX file's batch norms are folded into its convolutions, so its weights do not load into the
training module, and speed does not depend on the weight values. This is the one module of
``engines`` that knows about faces: it imports ``realtime`` for the end-to-end part only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from engines.artifact import METADATA_KEY, ModelMeta, default_model_path, read_onnx_meta
from engines.base import Backend

BATCHES = (1, 9, 64)
GRAPH_SIZES = (1, 2, 4, 9, 16, 32, 64)  # captured once each; a batch runs on the smallest that fits
TARGETS = {"encoder_faces_per_s_b64": 20000.0, "e2e_1face_p99_ms": 10.0, "streams_per_gpu_30fps": 72.0}
FPS = 30.0
RESULT = "gpu_check.json"


def read_meta(path: Path) -> ModelMeta:
    """The model's metadata, through ``onnx`` where it is installed, else through ONNX Runtime
    (a GPU machine may have onnxruntime and torch but not the ``onnx`` package)."""
    if importlib.util.find_spec("onnx") is not None:
        return read_onnx_meta(path)
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return ModelMeta.from_json(session.get_modelmeta().custom_metadata_map[METADATA_KEY])


class TorchEncoder(Backend):
    """The model's architecture in PyTorch: FP16 + a CUDA graph per batch size on a GPU, FP32 eager on CPU."""

    name = "torch"

    def __init__(self, meta: ModelMeta, device: str) -> None:
        import torch

        from training.models.registry import create_detector

        cuda = device == "cuda"
        self.torch_device = torch.device("cuda" if cuda else "cpu")
        self.dtype = torch.float16 if cuda else torch.float32
        super().__init__(meta, "cuda:0 fp16 cuda-graphs" if cuda else "cpu fp32 eager")
        arch = dict(meta.arch)
        name = str(arch.pop("name"))
        arch.setdefault("feature_dim", meta.feature_dim)
        model = create_detector(name, **arch).eval()
        self.model = model.to(self.torch_device, self.dtype)
        self.graphs: dict[int, tuple[Any, Any, Any]] = {}  # size -> (graph, static in, static out)
        if cuda:
            self._capture()

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TorchEncoder:
        return cls(read_meta(Path(path)), device)

    def _capture(self) -> None:
        """One CUDA graph per size in :data:`GRAPH_SIZES`: a replay is one launch, not ~100 kernels."""
        import torch

        size = self.meta.crop.size
        with torch.inference_mode():
            for n in GRAPH_SIZES:
                static_in = torch.zeros((n, 3, size, size), device=self.torch_device, dtype=self.dtype)
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):  # warm-up off the default stream, as capture wants
                    for _ in range(3):
                        self.model.encode(static_in)
                torch.cuda.current_stream().wait_stream(stream)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    static_out = self.model.encode(static_in)
                self.graphs[n] = (graph, static_in, static_out)

    def device_encode(self, crops: Any) -> Any:
        """Encode a tensor already on the device (graph replay when one fits); returns a device tensor."""
        import torch

        n = int(crops.shape[0])
        fits = [s for s in self.graphs if s >= n]
        with torch.inference_mode():
            if not fits:
                return self.model.encode(crops)
            graph, static_in, static_out = self.graphs[min(fits)]
            static_in[:n].copy_(crops)
            graph.replay()
            return static_out[:n]

    def to_device(self, crops: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(crops).to(self.torch_device, self.dtype, non_blocking=True)

    def sync(self) -> None:
        import torch

        if self.torch_device.type == "cuda":
            torch.cuda.synchronize()

    def _encode(self, crops: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.device_encode(self.to_device(crops)).float().cpu().numpy()
        return out

    def _head(self, windows: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model.score_window(self.to_device(windows))
        result: np.ndarray = out.float().cpu().numpy().reshape(-1)
        return result


def timed(run: Callable[[], object], seconds: float, sync: Callable[[], None] = lambda: None) -> float:
    """Seconds per call of ``run``: after a warm-up call, calls for ``seconds`` (at least 2).

    Models are warmed (and graphs captured) before this: one call more settles allocators.
    """
    run()
    sync()
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < seconds:
        run()
        calls += 1
        if calls % 16 == 0:
            sync()  # keep the GPU's queue short, so the clock measures work, not launches
    sync()
    return (time.perf_counter() - start) / calls


def measure_encoder(backend: Backend, seconds: float, device_path: bool) -> dict[str, Any]:
    """faces/s at each of :data:`BATCHES`, from numpy (host) and, for torch, on the device."""
    size = backend.meta.crop.size
    rng = np.random.default_rng(0)
    batches: dict[str, Any] = {}
    for n in BATCHES:
        crops = rng.standard_normal((n, 3, size, size)).astype(np.float32)
        host_s = timed(partial(backend.encode, crops), seconds)
        entry = {"host_ms_per_batch": round(host_s * 1000, 3), "host_faces_per_s": round(n / host_s, 1)}
        if device_path and isinstance(backend, TorchEncoder):
            on_device = backend.to_device(crops)
            device_s = timed(partial(backend.device_encode, on_device), seconds, backend.sync)
            entry.update({"ms_per_batch": round(device_s * 1000, 3), "faces_per_s": round(n / device_s, 1)})
        else:
            entry.update(
                {"ms_per_batch": entry["host_ms_per_batch"], "faces_per_s": entry["host_faces_per_s"]}
            )
        batches[str(n)] = entry
    return {"status": "measured", "provider": backend.provider, "batches": batches}


def _failure(exc: BaseException) -> dict[str, Any]:
    return {
        "status": "failed",
        "reason": f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
        "where": traceback.format_exc().strip().splitlines()[-3:],
    }


def encoders(model: Path, device: str, seconds: float) -> tuple[dict[str, Any], dict[str, Backend]]:
    """Every backend's encoder figures, and the loaded backends (for the end-to-end part)."""
    results: dict[str, Any] = {}
    loaded: dict[str, Backend] = {}
    try:
        torch_backend = TorchEncoder.load(model, device)
        loaded["torch"] = torch_backend
        results["torch"] = {
            **measure_encoder(torch_backend, seconds, device_path=True),
            "precision": "fp16" if device == "cuda" else "fp32",
            "cuda_graphs": bool(torch_backend.graphs),
            "weights": "freshly initialised, the shipped model's architecture (speed only)",
        }
    except Exception as exc:
        results["torch"] = _failure(exc)
    try:
        import onnxruntime as ort

        from engines.onnx_backend import CUDA, OnnxBackend

        if device == "cuda" and CUDA not in ort.get_available_providers():
            results["onnxruntime"] = {
                "status": "unavailable",
                "reason": f"this onnxruntime {ort.__version__} has no {CUDA} (pip install onnxruntime-gpu)",
            }
        else:
            ort_backend = OnnxBackend.load(model, device=device, strict=True)
            loaded["onnxruntime"] = ort_backend
            results["onnxruntime"] = {
                **measure_encoder(ort_backend, seconds, device_path=False),
                "precision": "fp32",
                "weights": "the shipped model",
            }
    except Exception as exc:
        results["onnxruntime"] = _failure(exc)
    if importlib.util.find_spec("tensorrt") is None:
        results["tensorrt"] = {"status": "unmeasured", "reason": "tensorrt is not importable here"}
    elif device != "cuda":
        results["tensorrt"] = {"status": "unmeasured", "reason": "TensorRT needs --device cuda"}
    else:
        try:
            from engines.tensorrt_backend import MAX_FACES, TensorRTBackend

            trt_backend = TensorRTBackend.load(model, precision="fp16", max_faces=max(BATCHES))
            loaded["tensorrt"] = trt_backend
            results["tensorrt"] = {
                **measure_encoder(trt_backend, seconds, device_path=False),
                "precision": "fp16",
                "profile_max_faces": max(BATCHES, default=MAX_FACES),
            }
        except Exception as exc:
            results["tensorrt"] = _failure(exc)
    return results, loaded


def end_to_end(backend: Backend, frames: int, warmup: int) -> dict[str, Any]:
    """One face at 640x480 and a 3x3 gallery at 1280x720 through a DetectorSession on ``backend``."""
    from realtime.bench import build_view, run_bench
    from realtime.session import DetectorSession

    out: dict[str, Any] = {"backend": backend.name, "provider": backend.provider}
    for key, faces in (("1_face", 1), ("3x3", 9)):
        try:
            session = DetectorSession.from_backend(backend)
            with session:
                view, decode_total = build_view(faces, frames + warmup)
                decoded = max(1, len(view.tiles[0][0].frames))
                result = run_bench(session, view, frames, decode_total / decoded, warmup)
                summary = result.summary(session, "shipped")
            out[key] = {
                "status": "measured",
                "resolution": summary["resolution"],
                "frames": summary["frames"],
                "faces_mean": summary["faces_mean"],
                "fps": summary["fps"],
                "e2e": summary["e2e"],
                "stages": summary["stages"],
            }
        except Exception as exc:
            out[key] = _failure(exc)
    return out


def streams_per_gpu(faces_per_s: float, stride: int) -> dict[str, Any]:
    """Streams of one face at 30 fps that the encoder keeps up with, at the batch-64 rate."""
    crops_per_stream = FPS / max(1, stride)
    return {
        "value": int(faces_per_s // crops_per_stream),
        "every_frame_encoded": int(faces_per_s // FPS),
        "assumes": f"one face per stream, encoded every {stride}th frame (the model's stride): "
        f"{crops_per_stream:g} crops/s a stream, at the batch-64 faces/s; the stream's resolution "
        "does not enter (crops are the model's size; detection runs on the CPU)",
    }


def environment(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": device,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.version.cuda
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception as exc:
        info["torch"] = f"unavailable ({exc})"
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
        info["ort_providers"] = ort.get_available_providers()
    except Exception as exc:
        info["onnxruntime"] = f"unavailable ({exc})"
    info["tensorrt"] = "importable" if importlib.util.find_spec("tensorrt") else None
    return info


def run(
    out: Path, device: str, seconds: float, frames: int, warmup: int, model: Path | None = None
) -> dict[str, Any]:
    """Everything above, written to ``out/gpu_check.json`` (also returned)."""
    started = time.perf_counter()
    model = model or default_model_path()
    meta = read_meta(model)
    results: dict[str, Any] = {
        "environment": environment(device),
        "model": {
            "path": str(model),
            "version": meta.model_version,
            "crop": meta.crop.size,
            "stride": meta.stride,
        },
        "settings": {"seconds_per_point": seconds, "e2e_frames": frames, "e2e_warmup": warmup},
    }
    results["encoder"], loaded = encoders(model, device, seconds)
    measured = {
        name: r["batches"]["64"]["faces_per_s"]
        for name, r in results["encoder"].items()
        if r.get("status") == "measured"
    }
    best = max(measured, key=lambda name: measured[name]) if measured else None
    results["e2e"] = (
        end_to_end(loaded[best], frames, warmup)
        if best
        else {"status": "skipped", "reason": "no encoder ran"}
    )
    results["streams_per_gpu_30fps"] = (
        {**streams_per_gpu(measured[best], meta.stride), "backend": best} if best else None
    )
    one_face = results["e2e"].get("1_face", {}) if best else {}
    figures = {
        "encoder_faces_per_s_b64": measured[best] if best else None,
        "e2e_1face_p99_ms": one_face.get("e2e", {}).get("p99_ms"),
        "streams_per_gpu_30fps": results["streams_per_gpu_30fps"]["value"] if best else None,
    }
    results["targets"] = TARGETS
    results["figures"] = figures
    if device == "cuda":
        results["met"] = {
            key: None
            if value is None
            else (value <= TARGETS[key] if key.endswith("_ms") else value >= TARGETS[key])
            for key, value in figures.items()
        }
    else:
        results["met"] = None
        results["note"] = (
            "CPU run: the script's own test, not GPU figures; targets are judged on --device cuda only"
        )
    results["seconds"] = round(time.perf_counter() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULT).write_text(json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help=f"folder for {RESULT}")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cuda (default) or cpu")
    parser.add_argument(
        "--model", type=Path, default=None, help="a CallShield .onnx (default: the shipped one)"
    )
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="timing per batch size and backend (default 2)"
    )
    parser.add_argument(
        "--frames", type=int, default=300, help="timed end-to-end frames per view (default 300)"
    )
    parser.add_argument("--warmup", type=int, default=30, help="untimed end-to-end frames first (default 30)")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        print(f"error: --out {args.out} is a file; give a folder", file=sys.stderr)
        return 2
    if args.device == "cuda":
        try:
            import torch

            cuda = torch.cuda.is_available()
        except ImportError:
            cuda = False
        if not cuda:
            print(
                "error: no CUDA GPU is usable here (torch.cuda.is_available() is False); --device cpu "
                "runs the script's CPU path",
                file=sys.stderr,
            )
            return 2
    if args.seconds <= 0 or args.frames < 1 or args.warmup < 0:
        print("error: --seconds must be positive, --frames at least 1, --warmup 0 or more", file=sys.stderr)
        return 2
    results = run(args.out, args.device, args.seconds, args.frames, args.warmup, args.model)
    print(json.dumps({"figures": results["figures"], "met": results["met"], "seconds": results["seconds"]}))
    print(f"wrote {args.out / RESULT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
