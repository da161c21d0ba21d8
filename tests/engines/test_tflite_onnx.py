"""The TFLite-to-ONNX rewrite of MediaPipe's face mesh (engines.tflite_onnx) on a real face."""

from __future__ import annotations

import numpy as np
import pytest

from engines.tflite_onnx import UnsupportedModel, tflite_to_onnx
from realtime import face_models


def test_the_mesh_becomes_an_onnx_model_with_the_tflite_signature() -> None:
    import onnx

    model = onnx.load_from_string(tflite_to_onnx(face_models.model_path(face_models.FACE_MESH).read_bytes()))
    onnx.checker.check_model(model)
    dims = [
        [d.dim_value for d in io.type.tensor_type.shape.dim]
        for io in (*model.graph.input, *model.graph.output)
    ]
    assert dims == [[1, 192, 192, 3], [1, 1, 1, 1404], [1, 1, 1, 1]]


def test_a_model_with_other_ops_is_refused_by_name() -> None:
    data = face_models.model_path(face_models.FACE_DETECTION_SHORT).read_bytes()
    with pytest.raises(UnsupportedModel, match=r"op [A-Z_0-9]+ is not supported"):
        tflite_to_onnx(data)


def test_mesh_sees_a_face_and_not_noise() -> None:
    """The converted graph's presence score: high on a face region, low on random pixels."""
    import cv2
    import onnxruntime as ort

    session = ort.InferenceSession(tflite_to_onnx(face_models.model_path(face_models.FACE_MESH).read_bytes()))
    from tests.media import carphone_path, read_frames

    frame = read_frames(carphone_path())[0]
    face = cv2.resize(frame[10:130, 40:140], (192, 192)).astype(np.float32)[None] / 255
    noise = np.random.default_rng(0).random((1, 192, 192, 3), dtype=np.float32)
    presence = [float(session.run(None, {"input": x})[1].reshape(-1)[0]) for x in (face, noise)]
    assert presence[0] > 0 > presence[1]
