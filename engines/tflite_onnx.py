"""A TensorFlow Lite model of plain convolution ops, rewritten as an ONNX graph for ONNX Runtime.

Why: MediaPipe's 468-point face mesh (``face_landmark.tflite`` from the 0.10.21 wheel) is what
training's blend masks and the demo's manipulated clip are drawn from, but mediapipe releases after
0.10.21 run it only inside a Tasks graph built for another mesh model (its points come back
scrambled), and no TFLite interpreter on PyPI supports every Python CallShield does. The model is a
small CNN of seven op types, so it is read straight out of its flatbuffer (with the TFLite schema
that mediapipe's wheel carries, ``mediapipe.tasks.metadata.schema_py_generated``) and rebuilt in ONNX,
which CallShield already runs everywhere. The graph is built in memory at load (~10 ms); nothing is
written to disk.

Supported: ``DEQUANTIZE`` of float16 constants, ``CONV_2D``, ``DEPTHWISE_CONV_2D``, ``PRELU``,
``ADD``, ``MAX_POOL_2D``, ``PAD`` (NHWC in, NHWC out; the graph runs NCHW inside). Anything else
raises :class:`UnsupportedModel` naming the op.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class UnsupportedModel(ValueError):
    """The TFLite model uses an op, option or tensor type this converter does not handle."""


_ACTIVATIONS = {0: None, 1: "Relu"}  # TFLite ActivationFunctionType NONE, RELU


def _schema() -> Any:
    try:
        from mediapipe.tasks.metadata import schema_py_generated
    except ImportError as exc:  # pragma: no cover - every mediapipe since 0.10 ships it
        raise UnsupportedModel(f"the TFLite schema is not available ({exc})") from None
    return schema_py_generated


def tflite_to_onnx(data: bytes) -> bytes:
    """The serialized ONNX model equivalent to the TFLite flatbuffer ``data`` (first subgraph)."""
    from onnx import TensorProto, helper, numpy_helper

    schema = _schema()
    model = schema.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    op_names = {
        value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")
    }
    tensor_types = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.FLOAT16: np.float16,
                    schema.TensorType.INT32: np.int32}  # fmt: skip

    def constant(index: int) -> np.ndarray | None:
        tensor = graph.Tensors(index)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw.size == 0:
            return None
        if tensor.Type() not in tensor_types:
            raise UnsupportedModel(f"tensor {tensor.Name()!r} has TFLite type {tensor.Type()}")
        return np.frombuffer(raw.tobytes(), dtype=tensor_types[tensor.Type()]).reshape(tensor.ShapeAsNumpy())

    names: dict[int, str] = {}
    constants: dict[int, np.ndarray] = {}
    initializers: list[Any] = []
    nodes: list[Any] = []

    def value(index: int) -> np.ndarray:
        if index in constants:
            return constants[index]
        found = constant(index)
        if found is None:
            raise UnsupportedModel(f"tensor {index} should be a constant")
        return found

    def add_initializer(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def with_activation(out: str, fused: int, final: str) -> None:
        if fused not in _ACTIVATIONS:
            raise UnsupportedModel(f"fused activation {fused}")
        nodes.append(helper.make_node(_ACTIVATIONS[fused] or "Identity", [out], [final]))

    (input_index,) = [graph.Inputs(i) for i in range(graph.InputsLength())]
    input_shape = [int(d) for d in graph.Tensors(input_index).ShapeAsNumpy()]
    names[input_index] = "nchw_input"
    nodes.append(helper.make_node("Transpose", ["input"], ["nchw_input"], perm=[0, 3, 1, 2]))

    for op_index in range(graph.OperatorsLength()):
        op = graph.Operators(op_index)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
        ins = [op.Inputs(i) for i in range(op.InputsLength())]
        out = op.Outputs(0)
        out_name = f"t{out}"
        options = op.BuiltinOptions()
        if kind == "DEQUANTIZE":
            constants[out] = value(ins[0]).astype(np.float32)
            continue
        names[out] = out_name
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            opts = schema.Conv2DOptions() if kind == "CONV_2D" else schema.DepthwiseConv2DOptions()
            opts.Init(options.Bytes, options.Pos)
            weight = value(ins[1]).astype(np.float32)  # conv: (O, H, W, I); depthwise: (1, H, W, C)
            group = 1
            if kind == "DEPTHWISE_CONV_2D":
                if opts.DepthMultiplier() not in (0, 1):
                    raise UnsupportedModel("depthwise convolution with a depth multiplier")
                weight = weight.transpose(3, 0, 1, 2)
                group = weight.shape[0]
            else:
                weight = weight.transpose(0, 3, 1, 2)
            inputs = [names[ins[0]], add_initializer(f"w{out}", weight)]
            if len(ins) > 2 and ins[2] >= 0:
                inputs.append(add_initializer(f"b{out}", value(ins[2]).astype(np.float32)))
            nodes.append(
                helper.make_node(
                    "Conv",
                    inputs,
                    [out_name + "_pre"],
                    group=group,
                    strides=[opts.StrideH(), opts.StrideW()],
                    dilations=[opts.DilationHFactor() or 1, opts.DilationWFactor() or 1],
                    auto_pad="SAME_UPPER" if opts.Padding() == schema.Padding.SAME else "VALID",
                )  # fmt: skip
            )
            with_activation(out_name + "_pre", opts.FusedActivationFunction(), out_name)
        elif kind == "MAX_POOL_2D":
            opts = schema.Pool2DOptions()
            opts.Init(options.Bytes, options.Pos)
            nodes.append(
                helper.make_node(
                    "MaxPool",
                    [names[ins[0]]],
                    [out_name + "_pre"],
                    kernel_shape=[opts.FilterHeight(), opts.FilterWidth()],
                    strides=[opts.StrideH(), opts.StrideW()],
                    auto_pad="SAME_UPPER" if opts.Padding() == schema.Padding.SAME else "VALID",
                )  # fmt: skip
            )
            with_activation(out_name + "_pre", opts.FusedActivationFunction(), out_name)
        elif kind == "PRELU":
            alpha = value(ins[1]).astype(np.float32).reshape(-1, 1, 1)
            nodes.append(
                helper.make_node("PRelu", [names[ins[0]], add_initializer(f"a{out}", alpha)], [out_name])
            )
        elif kind == "ADD":
            opts = schema.AddOptions()
            opts.Init(options.Bytes, options.Pos)
            nodes.append(helper.make_node("Add", [names[ins[0]], names[ins[1]]], [out_name + "_pre"]))
            with_activation(out_name + "_pre", opts.FusedActivationFunction(), out_name)
        elif kind == "PAD":
            pads = value(ins[1]).astype(np.int64)  # NHWC (4, 2) -> ONNX NCHW begins then ends
            order = [0, 3, 1, 2]
            onnx_pads = np.array([pads[i, 0] for i in order] + [pads[i, 1] for i in order], dtype=np.int64)
            nodes.append(
                helper.make_node("Pad", [names[ins[0]], add_initializer(f"p{out}", onnx_pads)], [out_name])
            )
        else:
            raise UnsupportedModel(f"op {kind} is not supported")

    outputs = []
    for i in range(graph.OutputsLength()):
        index = graph.Outputs(i)
        tensor = graph.Tensors(index)
        name = tensor.Name().decode()
        nodes.append(helper.make_node("Transpose", [names[index]], [name], perm=[0, 2, 3, 1]))
        outputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [int(d) for d in tensor.ShapeAsNumpy()])
        )
    onnx_graph = helper.make_graph(
        nodes,
        "tflite",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
        outputs,
        initializers,
    )
    onnx_model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx_model.ir_version = 8
    return bytes(onnx_model.SerializeToString())
