"""``python -m engines.gpu_check``: its CPU path run for real (the shipped ONNX model on ONNX
Runtime, the model's architecture on PyTorch, the end-to-end loop on carphone), and its GPU path
where a CUDA GPU exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.gpu_check import BATCHES, RESULT, main

torch = pytest.importorskip("torch", reason="the torch backend of gpu_check needs torch")


def _check_encoder(entry: dict, precision: str) -> None:
    assert entry["status"] == "measured" and entry["precision"] == precision
    for n in BATCHES:
        point = entry["batches"][str(n)]
        assert point["faces_per_s"] > 0 and point["host_faces_per_s"] > 0
        # faces/s is the batch over its own time: the two fields agree up to their rounding (0.1
        # faces/s matters when a loaded CPU takes seconds for a batch of 64)
        assert point["faces_per_s"] == pytest.approx(n / (point["ms_per_batch"] / 1000), rel=0.01, abs=0.06)


def test_cpu_path_measures_both_backends_end_to_end_and_writes_the_json(tmp_path: Path, capsys) -> None:
    argv = ["--out", str(tmp_path), "--device", "cpu", "--seconds", "0.05", "--frames", "8", "--warmup", "6"]
    assert main(argv) == 0
    result = json.loads((tmp_path / RESULT).read_text())
    assert json.loads(capsys.readouterr().out)["figures"] == result["figures"]

    encoder = result["encoder"]
    _check_encoder(encoder["torch"], "fp32")
    assert encoder["torch"]["cuda_graphs"] is False  # graphs are captured on CUDA only
    _check_encoder(encoder["onnxruntime"], "fp32")
    assert encoder["onnxruntime"]["provider"] == "CPUExecutionProvider"
    assert encoder["tensorrt"]["status"] == "unmeasured" and encoder["tensorrt"]["reason"]

    e2e = result["e2e"]
    best = max(("torch", "onnxruntime"), key=lambda b: encoder[b]["batches"]["64"]["faces_per_s"])
    assert e2e["backend"] == best
    one, gallery = e2e["1_face"], e2e["3x3"]
    assert one["status"] == gallery["status"] == "measured"
    assert one["resolution"] == "640x480" and gallery["resolution"] == "1280x720"
    assert one["frames"] == gallery["frames"] == 8
    assert one["faces_mean"] >= 0.9  # carphone's face, found and encoded on the chosen backend
    assert gallery["faces_mean"] >= 5  # most of the 3x3 gallery's faces
    assert one["e2e"]["p99_ms"] >= one["e2e"]["p50_ms"] > 0 and one["stages"]["encode"]["p50_ms"] > 0

    stride = result["model"]["stride"]
    b64 = encoder[best]["batches"]["64"]["faces_per_s"]
    streams = result["streams_per_gpu_30fps"]
    assert streams["value"] == int(b64 // (30 / stride)) and streams["every_frame_encoded"] == int(b64 // 30)
    assert result["figures"] == {
        "encoder_faces_per_s_b64": b64,
        "e2e_1face_p99_ms": one["e2e"]["p99_ms"],
        "streams_per_gpu_30fps": streams["value"],
    }
    assert result["met"] is None and "not GPU figures" in result["note"]  # no verdict off the GPU


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where no GPU exists")
def test_cuda_without_a_gpu_is_one_error_line(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no CUDA GPU is usable here") and err.count("\n") == 1
    assert not (tmp_path / RESULT).exists()


@pytest.mark.gpu
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
)
def test_gpu_path_fp16_cuda_graphs_and_targets_judged(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--seconds", "0.5", "--frames", "60"]) == 0
    result = json.loads((tmp_path / RESULT).read_text())
    torch_entry = result["encoder"]["torch"]
    _check_encoder(torch_entry, "fp16")
    assert torch_entry["cuda_graphs"] is True
    batches = torch_entry["batches"]
    assert batches["64"]["faces_per_s"] > batches["1"]["faces_per_s"]  # batching pays on a GPU
    assert result["e2e"]["1_face"]["status"] == "measured"
    assert set(result["met"]) == set(result["targets"])
