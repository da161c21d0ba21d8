"""The one ONNX graph behind the tests' fixture models, built with onnx.helper (torch-free).

Both fixtures (``tests/engines/model_fixture.py``: random weights checked against numpy;
``tests/realtime/fixture_model.py``: a brightness probe for the runtime) are the same two linear
paths with the shipped model's interface and differ only in their weights, so the graph is written
once here: ``features = mean_hw(crops) @ W + b`` and ``logit = mean_t(window) @ v + c``, with the
CallShield metadata in ``metadata_props``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engines.artifact import (
    ENCODER_INPUT,
    ENCODER_OUTPUT,
    HEAD_INPUT,
    HEAD_OUTPUT,
    METADATA_KEY,
    ModelMeta,
)


def write_linear_model(
    path: str | Path,
    meta: ModelMeta,
    w: np.ndarray,
    b: np.ndarray,
    v: np.ndarray,
    c: np.ndarray,
    graph_name: str,
    with_meta: bool = True,
) -> Path:
    """Write the two-path linear model to ``path``: ``w`` (3, D), ``b`` (D,), ``v`` (D, 1), ``c`` (1,).

    ``with_meta=False`` leaves out the CallShield metadata (a valid ONNX file the runtime must refuse).
    """
    d, t, s = meta.feature_dim, meta.window, meta.crop.size
    nodes = [
        helper.make_node("GlobalAveragePool", [ENCODER_INPUT], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["proj"]),
        helper.make_node("Add", ["proj", "b"], [ENCODER_OUTPUT]),
        helper.make_node("ReduceMean", [HEAD_INPUT], ["tmean"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["tmean", "v"], ["score"]),
        helper.make_node("Add", ["score", "c"], ["score_b"]),
        helper.make_node("Squeeze", ["score_b", "sq_axes"], [HEAD_OUTPUT]),
    ]
    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(v, "v"),
        numpy_helper.from_array(c, "c"),
        numpy_helper.from_array(np.array([1], np.int64), "sq_axes"),
    ]
    graph = helper.make_graph(
        nodes,
        graph_name,
        [
            helper.make_tensor_value_info(ENCODER_INPUT, TensorProto.FLOAT, ["N", 3, s, s]),
            helper.make_tensor_value_info(HEAD_INPUT, TensorProto.FLOAT, ["B", t, d]),
        ],
        [
            helper.make_tensor_value_info(ENCODER_OUTPUT, TensorProto.FLOAT, ["N", d]),
            helper.make_tensor_value_info(HEAD_OUTPUT, TensorProto.FLOAT, ["B"]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if with_meta:
        helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path
