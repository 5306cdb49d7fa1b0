"""The .tflite reader on the shared third-party models and on synthetic edge cases.

Two independent oracles: the flatc-generated Python of ai-edge-litert (options, buffers,
quantization, intermediates for every op and tensor) and the op inventory of
../shared/models/SOURCES.md (read there with the `tflite` schema package).
tests/integration/test_analyze_litert.py adds tflite-runtime as a third.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import shared_model_paths
from tinykit.errors import ModelError, TinykitError, UnsupportedError
from tinykit.tflite import schema
from tinykit.tflite.reader import read_model

g = pytest.importorskip("ai_edge_litert.schema_py_generated")
flatbuffers = pytest.importorskip("flatbuffers")

MODELS = shared_model_paths()

#: Op inventory per model, from ../shared/models/SOURCES.md.
SOURCES_OPS: dict[str, dict[str, int]] = {
    "mlperf_kws_dscnn_int8": {"CONV_2D": 5, "DEPTHWISE_CONV_2D": 4, "AVERAGE_POOL_2D": 1,
                              "RESHAPE": 1, "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "mlperf_vww_mobilenetv1_int8": {"CONV_2D": 14, "DEPTHWISE_CONV_2D": 13,
                                    "AVERAGE_POOL_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1,
                                    "SOFTMAX": 1},
    "mlperf_ic_resnet8_int8": {"CONV_2D": 9, "ADD": 3, "AVERAGE_POOL_2D": 1, "RESHAPE": 1,
                               "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "mlperf_ad_fc_autoencoder_int8": {"FULLY_CONNECTED": 10},
    "mlperf_ad_fc_autoencoder_hybrid": {"FULLY_CONNECTED": 10},
    "mlperf_sww_dscnn_int8": {"DEPTHWISE_CONV_2D": 4, "CONV_2D": 4, "RESHAPE": 1,
                              "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "tflm_hello_world_int8": {"FULLY_CONNECTED": 3},
    "tflm_hello_world_float": {"FULLY_CONNECTED": 3},
    "tflm_micro_speech_int8": {"RESHAPE": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1,
                               "SOFTMAX": 1},
    "tflm_person_detect_int8": {"DEPTHWISE_CONV_2D": 14, "CONV_2D": 14, "AVERAGE_POOL_2D": 1,
                                "RESHAPE": 1, "SOFTMAX": 1},
    "tflm_mnist_lstm_int8": {"UNIDIRECTIONAL_SEQUENCE_LSTM": 1, "RESHAPE": 1,
                             "FULLY_CONNECTED": 1, "SOFTMAX": 1},
    "tflm_keyword_scrambled_svdf_int8": {"QUANTIZE": 2, "SVDF": 7, "FULLY_CONNECTED": 5,
                                         "SOFTMAX": 1},
    "coral_mobilenet_v1_025_128_uint8": {"CONV_2D": 15, "DEPTHWISE_CONV_2D": 13,
                                         "AVERAGE_POOL_2D": 1, "RESHAPE": 1, "SOFTMAX": 1},
    "mcunet_vww_int8_floatio": {"QUANTIZE": 1, "PAD": 4, "CONV_2D": 30, "DEPTHWISE_CONV_2D": 15,
                                "ADD": 8, "TRANSPOSE": 1, "MEAN": 2, "FULLY_CONNECTED": 1,
                                "DEQUANTIZE": 1},
    "mcunet_detection_int8_floatio": {"QUANTIZE": 1, "PAD": 5, "CONV_2D": 39,
                                      "DEPTHWISE_CONV_2D": 16, "ADD": 11,
                                      "RESIZE_NEAREST_NEIGHBOR": 2, "MAX_POOL_2D": 2,
                                      "DEQUANTIZE": 3},
}


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", MODELS, ids=_ids(MODELS))
def test_op_inventory_matches_sources(path: Path) -> None:
    model = read_model(path)
    assert len(model.subgraphs) == 1
    assert dict(Counter(op.opcode for op in model.main.operators)) == SOURCES_OPS[path.stem]
    assert model.size_bytes == path.stat().st_size


def _np(value: Any) -> tuple[Any, ...]:
    return () if value is None else tuple(np.asarray(value).tolist())


def _check_options(op: Any, ref_op: Any) -> None:
    if ref_op.builtinOptions is None:
        table = schema.OP_OPTIONS.get(op.opcode)
        assert op.options == (schema.default_options(table) if table else {})
        return
    table = schema.BUILTIN_OPTIONS[ref_op.builtinOptionsType]
    for field in schema.OPTION_TABLES[table]:
        head, *rest = field.name.split("_")
        want = getattr(ref_op.builtinOptions, head + "".join(p.title() for p in rest))
        got = op.options[field.name]
        if field.vector:
            want = _np(want)
        if field.enum:
            got = schema.ENUMS[field.enum].index(got)
        if isinstance(want, float):
            assert np.float32(got) == np.float32(want), (op.index, field.name)
        else:
            assert got == want, (op.index, field.name)


@pytest.mark.parametrize("path", MODELS, ids=_ids(MODELS))
def test_matches_the_flatc_generated_reader(path: Path) -> None:
    data = path.read_bytes()
    ref = g.ModelT.InitFromPackedBuf(data, 0)
    model = read_model(data)
    assert model.description == (ref.description or b"").decode()
    for ref_sg, sg in zip(ref.subgraphs, model.subgraphs, strict=True):
        assert sg.inputs == _np(ref_sg.inputs) and sg.outputs == _np(ref_sg.outputs)
        for ref_op, op in zip(ref_sg.operators, sg.operators, strict=True):
            code = ref.operatorCodes[ref_op.opcodeIndex]
            assert op.opcode == schema.BUILTIN_OPERATORS[
                max(code.builtinCode, code.deprecatedBuiltinCode)]
            assert op.version == code.version
            assert op.inputs == _np(ref_op.inputs) and op.outputs == _np(ref_op.outputs)
            assert op.intermediates == _np(ref_op.intermediates)
            _check_options(op, ref_op)
        for ref_t, t in zip(ref_sg.tensors, sg.tensors, strict=True):
            assert t.name == (ref_t.name or b"").decode()
            assert t.shape == _np(ref_t.shape) and t.shape_signature == _np(ref_t.shapeSignature)
            assert t.is_variable == ref_t.isVariable and t.buffer == ref_t.buffer
            ref_data = bytes(_np(ref.buffers[ref_t.buffer].data)) if ref_t.buffer else b""
            assert (t.data or b"") == ref_data
            q = ref_t.quantization
            if q is None or q.scale is None or len(q.scale) == 0:
                assert t.quantization is None
            else:
                assert t.quantization is not None
                assert t.quantization.scale == tuple(float(s) for s in q.scale)
                assert t.quantization.zero_point == _np(q.zeroPoint)
                assert t.quantization.quantized_dimension == q.quantizedDimension


def test_options_the_code_generator_reads(shared_model: Any) -> None:
    kws = read_model(shared_model("mlperf_kws_dscnn_int8.tflite")).main
    assert dict(kws.operators[0].options) == {
        "padding": "SAME", "stride_w": 2, "stride_h": 2, "fused_activation_function": "RELU",
        "dilation_w_factor": 1, "dilation_h_factor": 1, "quantized_bias_type": "FLOAT32"}
    pool = next(op for op in kws.operators if op.opcode == "AVERAGE_POOL_2D")
    assert pool.options["padding"] == "VALID" and pool.options["filter_height"] == 25
    mcunet = read_model(shared_model("mcunet_vww_int8_floatio.tflite")).main
    mean = next(op for op in mcunet.operators if op.opcode == "MEAN")
    assert mean.options == {"keep_dims": False}
    assert next(op for op in mcunet.operators if op.opcode == "PAD").options == {}
    lstm = read_model(shared_model("tflm_mnist_lstm_int8.tflite")).main.operators[0]
    assert lstm.options["fused_activation_function"] == "TANH"
    assert lstm.options["cell_clip"] == 10.0 and lstm.options["time_major"] is False
    svdf = read_model(shared_model("tflm_keyword_scrambled_svdf_int8.tflite")).main.operators[1]
    assert svdf.options == {"rank": 1, "fused_activation_function": "RELU",
                            "asymmetric_quantize_inputs": False}


def test_quantization_and_state(shared_model: Any) -> None:
    person = read_model(shared_model("tflm_person_detect_int8.tflite")).main
    first = person.operators[0]  # DEPTHWISE_CONV_2D with depth multiplier 8
    weights = person.tensors[first.inputs[1]].quantization
    assert weights is not None and weights.per_channel
    assert weights.quantized_dimension == 3 and len(weights.scale) == 8
    # TOCO wrote the bias's quantized_dimension as 3 on a 1-D tensor; kept as read.
    assert person.tensors[first.inputs[2]].quantization.quantized_dimension == 3
    lstm = read_model(shared_model("tflm_mnist_lstm_int8.tflite")).main
    assert [(t.dtype, t.shape) for t in lstm.tensors if t.is_variable] == [
        ("int8", (1, 20)), ("int16", (1, 20))]
    assert all(lstm.tensors[i].nbytes == 0 for i in lstm.operators[0].intermediates)
    assert -1 in lstm.operators[0].inputs
    kws = read_model(shared_model("mlperf_kws_dscnn_int8.tflite")).main
    assert kws.tensors[kws.inputs[0]].shape_signature == (-1, 49, 10, 1)
    conv_weights = kws.tensors[kws.operators[0].inputs[1]]
    assert conv_weights.numpy().shape == conv_weights.shape


# --- synthetic models built with the generated object API ---------------------------------


def _tensor(shape: list[int], type_code: int = 9, buffer: int = 0, name: str = "t") -> Any:
    t = g.TensorT()
    t.shape, t.type, t.buffer, t.name = shape, type_code, buffer, name
    return t


def _model(ops: list[tuple[int, int, Any]], *, buffers: list[Any] | None = None,
           tensors: list[Any] | None = None) -> Any:
    """A model whose ops are (deprecated code, builtin code, options object or None)."""
    model = g.ModelT()
    model.version = 3
    model.operatorCodes, model.buffers = [], buffers or [g.BufferT()]
    sg = g.SubGraphT()
    sg.tensors = tensors or [_tensor([1, 4], name=f"t{i}") for i in range(len(ops) + 1)]
    sg.operators = []
    for i, (deprecated, builtin, options) in enumerate(ops):
        code = g.OperatorCodeT()
        code.deprecatedBuiltinCode, code.builtinCode, code.version = deprecated, builtin, 1
        model.operatorCodes.append(code)
        op = g.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = i, [i], [i + 1]
        if options is not None:
            op.builtinOptionsType, op.builtinOptions = options
        sg.operators.append(op)
    sg.inputs, sg.outputs = [0], [len(sg.tensors) - 1]
    model.subgraphs = [sg]
    return model


def _pack(model: Any) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_builtin_code_is_the_larger_of_the_two_fields() -> None:
    # Old files: only the byte field. New ones: byte field 127 (placeholder), int field 150.
    model = read_model(_pack(_model([(3, 0, None), (127, 150, None), (0, 117, None)])))
    assert [op.opcode for op in model.main.operators] == ["CONV_2D", "GELU", "HARD_SWISH"]


def test_absent_options_take_schema_defaults_and_unknown_unions_read_empty() -> None:
    unknown_union = len(schema.BUILTIN_OPTIONS)  # one past the last known member
    ops = [(0, 0, None), (18, 18, (unknown_union, g.AddOptionsT()))]
    model = read_model(_pack(_model(ops)))
    assert model.main.operators[0].options == {
        "fused_activation_function": "NONE", "pot_scale_int16": True}
    assert model.main.operators[1].options == {}


def test_enum_value_beyond_the_schema_stays_a_number() -> None:
    options = g.AddOptionsT()
    options.fusedActivationFunction = 42
    model = read_model(_pack(_model([(0, 0, (g.BuiltinOptions.AddOptions, options))])))
    assert model.main.operators[0].options["fused_activation_function"] == 42


def test_large_model_buffers_with_offset_and_size() -> None:
    payload = bytes(range(16))
    big = g.BufferT()
    big.offset, big.size = 1 << 40, len(payload)  # placeholder of the final width
    tensors = [_tensor([1, 4]), _tensor([16], type_code=3, buffer=1), _tensor([1, 4])]
    model = _model([(0, 0, None)], buffers=[g.BufferT(), big], tensors=tensors)
    size = len(_pack(model))
    big.offset = (size + 15) // 16 * 16
    data = _pack(model)
    assert len(data) == size
    data += bytes(big.offset - size) + payload
    tensor = read_model(data).main.tensors[1]
    assert tensor.data == payload and tensor.is_constant
    with pytest.raises(ModelError, match="outside the file"):
        read_model(data[:-1])


def test_errors_name_the_problem(tmp_path: Path) -> None:
    cases: list[tuple[bytes, str]] = [
        (b"", "too short"),
        (b"version https://git-lfs.github.com/spec/v1\n", "Git LFS"),
        (b"\x00" * 64, "identifier"),
        (b"\x08\x00\x00\x00TFL3" + b"\x00" * 4, "corrupt"),
    ]
    no_subgraph = _model([(0, 0, None)])
    no_subgraph.subgraphs = []
    cases.append((_pack(no_subgraph), "no subgraph"))
    cases.append((_pack(_model([(0, 999, None)])), "builtin op 999"))
    bad_tensor = _model([(0, 0, None)])
    bad_tensor.subgraphs[0].operators[0].outputs = [7]
    cases.append((_pack(bad_tensor), "names tensor 7"))
    bad_size = _model([(0, 0, None)], buffers=[g.BufferT(), g.BufferT()],
                      tensors=[_tensor([1, 4], buffer=1), _tensor([1, 4])])
    bad_size.buffers[1].data = [1, 2, 3]
    cases.append((_pack(bad_size), "holds 3 bytes"))
    for data, message in cases:
        with pytest.raises(ModelError, match=message):
            read_model(data)
    old = _model([(0, 0, None)])
    old.version = 2
    with pytest.raises(UnsupportedError, match="schema version 2"):
        read_model(_pack(old))
    with pytest.raises(ModelError, match="does not exist"):
        read_model(tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="folder"):
        read_model(tmp_path)


@pytest.mark.parametrize("path", MODELS[:4], ids=_ids(MODELS[:4]))
def test_truncated_files_raise_or_read_the_same(path: Path) -> None:
    """A cut either raises a TinykitError or falls in bytes nothing refers to (padding)."""
    data = path.read_bytes()
    full = read_model(data)
    for cut in sorted({0, 3, 7, 8, 12, 64, 256, len(data) // 3, len(data) // 2, len(data) - 1}):
        try:
            model = read_model(data[:cut])
        except TinykitError:
            continue
        assert cut > len(data) // 2, f"a cut at {cut} of {len(data)} bytes read"
        assert model.subgraphs == full.subgraphs and model.metadata == full.metadata


def test_sparse_constants_read_but_are_marked() -> None:
    weights = _tensor([4, 8], buffer=1)
    weights.sparsity = g.SparsityParametersT()
    weights.sparsity.traversalOrder = [0, 1]
    buffer = g.BufferT()
    buffer.data = [1, 2, 3]  # fewer bytes than the dense 4x8
    model = _model([(0, 0, None)], buffers=[g.BufferT(), buffer],
                   tensors=[_tensor([1, 4]), weights, _tensor([1, 4])])
    tensor = read_model(_pack(model)).main.tensors[1]
    assert tensor.is_sparse and tensor.data == bytes([1, 2, 3])
    with pytest.raises(ValueError, match="sparse"):
        tensor.numpy()
