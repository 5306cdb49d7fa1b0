"""The TFLite schema (schema.fbs) as data: op codes, enums, option tables.

Numbers and names follow schema.fbs as shipped with TensorFlow 2.21 / ai-edge-litert 2.3
(BuiltinOperator up to STABLEHLO_CASE = 209). The reader decodes any option table listed
here; a union type it does not know decodes to an empty dict, so a newer converter's
model still reads. tests/unit/test_tflite_schema.py checks every value against the
flatc-generated Python of ai-edge-litert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinykit.tflite._option_tables import OPTION_TABLE_SPECS

#: BuiltinOperator code -> name (the codes are contiguous from 0).
BUILTIN_OPERATORS = (
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION",
    "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR",
    "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL",
    "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU",
    "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL",
    "LESS_EQUAL", "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE",
    "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN",
    "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND",
    "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE",
    "FILL", "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE",
    "MIRROR_PAD", "ABS", "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS",
    "WHERE", "RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG",
    "ROUND", "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D",
    "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE",
    "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM",
    "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN", "SIGN",
    "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT", "STABLEHLO_LOGISTIC", "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM", "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP", "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE", "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE",
    "STABLEHLO_ABS", "STABLEHLO_AND", "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR", "STABLEHLO_LOG", "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR",
    "STABLEHLO_POWER", "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT", "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT", "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD", "STABLEHLO_IOTA", "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT", "STABLEHLO_WHILE", "STABLEHLO_GATHER", "STABLEHLO_TRANSPOSE", "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR", "REDUCE_WINDOW", "STABLEHLO_COMPOSITE", "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT", "STABLEHLO_CASE",
)
BUILTIN_OPTIONS = (
    "NONE", "Conv2DOptions", "DepthwiseConv2DOptions", "ConcatEmbeddingsOptions",
    "LSHProjectionOptions", "Pool2DOptions", "SVDFOptions", "RNNOptions", "FullyConnectedOptions",
    "SoftmaxOptions", "ConcatenationOptions", "AddOptions", "L2NormOptions",
    "LocalResponseNormalizationOptions", "LSTMOptions", "ResizeBilinearOptions", "CallOptions",
    "ReshapeOptions", "SkipGramOptions", "SpaceToDepthOptions", "EmbeddingLookupSparseOptions",
    "MulOptions", "PadOptions", "GatherOptions", "BatchToSpaceNDOptions", "SpaceToBatchNDOptions",
    "TransposeOptions", "ReducerOptions", "SubOptions", "DivOptions", "SqueezeOptions",
    "SequenceRNNOptions", "StridedSliceOptions", "ExpOptions", "TopKV2Options", "SplitOptions",
    "LogSoftmaxOptions", "CastOptions", "DequantizeOptions", "MaximumMinimumOptions",
    "ArgMaxOptions", "LessOptions", "NegOptions", "PadV2Options", "GreaterOptions",
    "GreaterEqualOptions", "LessEqualOptions", "SelectOptions", "SliceOptions",
    "TransposeConvOptions", "SparseToDenseOptions", "TileOptions", "ExpandDimsOptions",
    "EqualOptions", "NotEqualOptions", "ShapeOptions", "PowOptions", "ArgMinOptions",
    "FakeQuantOptions", "PackOptions", "LogicalOrOptions", "OneHotOptions", "LogicalAndOptions",
    "LogicalNotOptions", "UnpackOptions", "FloorDivOptions", "SquareOptions", "ZerosLikeOptions",
    "FillOptions", "BidirectionalSequenceLSTMOptions", "BidirectionalSequenceRNNOptions",
    "UnidirectionalSequenceLSTMOptions", "FloorModOptions", "RangeOptions",
    "ResizeNearestNeighborOptions", "LeakyReluOptions", "SquaredDifferenceOptions",
    "MirrorPadOptions", "AbsOptions", "SplitVOptions", "UniqueOptions", "ReverseV2Options",
    "AddNOptions", "GatherNdOptions", "CosOptions", "WhereOptions", "RankOptions",
    "ReverseSequenceOptions", "MatrixDiagOptions", "QuantizeOptions", "MatrixSetDiagOptions",
    "HardSwishOptions", "IfOptions", "WhileOptions", "DepthToSpaceOptions",
    "NonMaxSuppressionV4Options", "NonMaxSuppressionV5Options", "ScatterNdOptions",
    "SelectV2Options", "DensifyOptions", "SegmentSumOptions", "BatchMatMulOptions",
    "CumsumOptions", "CallOnceOptions", "BroadcastToOptions", "Rfft2dOptions", "Conv3DOptions",
    "HashtableOptions", "HashtableFindOptions", "HashtableImportOptions", "HashtableSizeOptions",
    "VarHandleOptions", "ReadVariableOptions", "AssignVariableOptions", "RandomOptions",
    "BucketizeOptions", "GeluOptions", "DynamicUpdateSliceOptions", "UnsortedSegmentProdOptions",
    "UnsortedSegmentMaxOptions", "UnsortedSegmentMinOptions", "UnsortedSegmentSumOptions",
    "ATan2Options", "SignOptions", "BitcastOptions", "BitwiseXorOptions", "RightShiftOptions",
)
BUILTIN_OPTIONS_2 = (
    "NONE", "StablehloConcatenateOptions", "StablehloBroadcastInDimOptions",
    "StablehloSliceOptions", "StablehloConvolutionOptions", "StablehloCustomCallOptions",
    "StablehloReduceOptions", "StablehloScatterOptions", "StablehloCompareOptions",
    "StablehloDynamicSliceOptions", "StablehloPadOptions", "StablehloIotaOptions",
    "StablehloDotGeneralOptions", "StablehloReduceWindowOptions", "StablehloSortOptions",
    "StablehloWhileOptions", "StablehloGatherOptions", "StablehloTransposeOptions",
    "DilateOptions", "StablehloRngBitGeneratorOptions", "ReduceWindowOptions",
    "StableHLOCompositeOptions", "StablehloShiftLeftOptions", "StablehloCaseOptions",
)
#: Enums used by tensors and option tables: name -> value names indexed by value.
ENUMS: dict[str, tuple[str, ...]] = {
    "TensorType": (
        "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64",
        "INT8", "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16",
        "INT4", "BFLOAT16", "INT2", "UINT4", "FLOAT8_E4M3FN", "FLOAT8_E5M2",
    ),
    "Padding": (
        "SAME", "VALID",
    ),
    "ActivationFunctionType": (
        "NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT",
    ),
    "FullyConnectedOptionsWeightsFormat": (
        "DEFAULT", "SHUFFLED4x16INT8",
    ),
    "LSTMKernelType": (
        "FULL", "BASIC",
    ),
    "LSHProjectionType": (
        "UNKNOWN", "SPARSE", "DENSE",
    ),
    "CombinerType": (
        "SUM", "MEAN", "SQRTN",
    ),
    "MirrorPadMode": (
        "REFLECT", "SYMMETRIC",
    ),
    "RngAlgorithm": (
        "DEFAULT", "PHILOX", "THREEFRY",
    ),
    "StablehloComparisonDirection": (
        "STABLEHLO_COMPARISON_DIRECTION_EQ", "STABLEHLO_COMPARISON_DIRECTION_NE",
        "STABLEHLO_COMPARISON_DIRECTION_GE", "STABLEHLO_COMPARISON_DIRECTION_GT",
        "STABLEHLO_COMPARISON_DIRECTION_LE", "STABLEHLO_COMPARISON_DIRECTION_LT",
    ),
    "StablehloComparisonType": (
        "STABLEHLO_COMPARISON_TYPE_NOTYPE", "STABLEHLO_COMPARISON_TYPE_FLOAT",
        "STABLEHLO_COMPARISON_TYPE_FLOAT_TOTAL_ORDER", "STABLEHLO_COMPARISON_TYPE_SIGNED",
        "STABLEHLO_COMPARISON_TYPE_UNSIGNED",
    ),
    "StablehloPrecisionConfig": (
        "DEFAULT", "HIGH", "HIGHEST",
    ),
    "ReduceWindowFunction": (
        "UNSUPPORTED", "ADD", "MUL", "MINIMUM", "MAXIMUM", "ALL", "ANY",
    ),
    "CustomOptionsFormat": (
        "FLEXBUFFERS",
    ),
}

#: Storage type of each enum inside a table (all are `byte` but the StableHLO ones).
_ENUM_STORAGE = {
    "StablehloComparisonDirection": "u32", "StablehloComparisonType": "u32",
    "StablehloPrecisionConfig": "u32", "ReduceWindowFunction": "i32",
}

#: Scalar type of the notation -> (struct format, byte width).
SCALARS: dict[str, tuple[str, int]] = {
    "bool": ("?", 1), "i8": ("b", 1), "u8": ("B", 1), "i16": ("h", 2), "u16": ("H", 2),
    "i32": ("i", 4), "u32": ("I", 4), "i64": ("q", 8), "u64": ("Q", 8),
    "f32": ("f", 4), "f64": ("d", 8),
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of an option table: its vtable slot and how to decode it.

    `scalar` is a key of SCALARS (the storage type), or "str" for a string; `enum` names
    the enum whose value names replace the numbers; `vector` marks `[type]`.
    """

    slot: int
    name: str
    scalar: str
    enum: str | None
    vector: bool
    default: Any


def _parse_default(text: str, scalar: str, enum: str | None) -> Any:
    if enum is not None:
        return ENUMS[enum].index(text)
    if scalar == "bool":
        return text == "true"
    return float(text) if scalar.startswith("f") else int(text)


def _parse_field(slot: int, word: str) -> FieldSpec:
    name, _, rest = word.partition(":")
    type_text, _, default_text = rest.partition("=")
    vector = type_text.startswith("[")
    type_text = type_text.strip("[]")
    enum = type_text if type_text in ENUMS else None
    scalar = _ENUM_STORAGE.get(type_text, "i8") if enum else type_text
    if scalar != "str" and scalar not in SCALARS:
        raise ValueError(f"unknown type {type_text!r} in option field {word!r}")
    if default_text:
        default: Any = _parse_default(default_text, scalar, enum)
    elif vector:
        default = ()
    elif scalar == "str":
        default = ""
    else:
        default = False if scalar == "bool" else 0.0 if scalar.startswith("f") else 0
    return FieldSpec(slot, name, scalar, enum, vector, default)


def _parse_table(spec: str) -> tuple[FieldSpec, ...]:
    words = spec.split()
    return tuple(_parse_field(slot, w) for slot, w in enumerate(words) if w != "-")


#: Option table name -> its fields in slot order (deprecated slots left out).
OPTION_TABLES: dict[str, tuple[FieldSpec, ...]] = {
    name: _parse_table(spec) for name, spec in OPTION_TABLE_SPECS.items()
}


def default_options(table: str) -> dict[str, Any]:
    """The options dict of a table whose fields are all absent (schema defaults)."""
    return {
        f.name: (ENUMS[f.enum][f.default] if f.enum and not f.vector else f.default)
        for f in OPTION_TABLES[table]
    }


#: Builtin op -> the option table it takes, so that an op stored without options still
#: gets the schema defaults (old converters omit empty tables).
OP_OPTIONS: dict[str, str] = {
    "ADD": "AddOptions", "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions", "CONCATENATION": "ConcatenationOptions",
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions", "SPACE_TO_DEPTH": "SpaceToDepthOptions",
    "DEQUANTIZE": "DequantizeOptions", "QUANTIZE": "QuantizeOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "L2_NORMALIZATION": "L2NormOptions",
    "LOCAL_RESPONSE_NORMALIZATION": "LocalResponseNormalizationOptions",
    "LSH_PROJECTION": "LSHProjectionOptions", "LSTM": "LSTMOptions", "MUL": "MulOptions",
    "RESHAPE": "ReshapeOptions", "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions", "RNN": "RNNOptions",
    "SOFTMAX": "SoftmaxOptions", "SVDF": "SVDFOptions", "CALL": "CallOptions",
    "PAD": "PadOptions", "PADV2": "PadV2Options", "MIRROR_PAD": "MirrorPadOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions", "GATHER": "GatherOptions",
    "BATCH_TO_SPACE_ND": "BatchToSpaceNDOptions", "SPACE_TO_BATCH_ND": "SpaceToBatchNDOptions",
    "TRANSPOSE": "TransposeOptions", "MEAN": "ReducerOptions", "SUM": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions", "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions", "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions", "SUB": "SubOptions", "DIV": "DivOptions",
    "SQUEEZE": "SqueezeOptions", "STRIDED_SLICE": "StridedSliceOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "BidirectionalSequenceLSTMOptions",
    "BIDIRECTIONAL_SEQUENCE_RNN": "BidirectionalSequenceRNNOptions",
    "EXP": "ExpOptions", "TOPK_V2": "TopKV2Options", "SPLIT": "SplitOptions",
    "SPLIT_V": "SplitVOptions", "LOG_SOFTMAX": "LogSoftmaxOptions", "CAST": "CastOptions",
    "MAXIMUM": "MaximumMinimumOptions", "MINIMUM": "MaximumMinimumOptions",
    "ARG_MAX": "ArgMaxOptions", "ARG_MIN": "ArgMinOptions", "SLICE": "SliceOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions", "TILE": "TileOptions",
    "EXPAND_DIMS": "ExpandDimsOptions", "SHAPE": "ShapeOptions", "PACK": "PackOptions",
    "UNPACK": "UnpackOptions", "LEAKY_RELU": "LeakyReluOptions",
    "SQUARED_DIFFERENCE": "SquaredDifferenceOptions", "HARD_SWISH": "HardSwishOptions",
    "BATCH_MATMUL": "BatchMatMulOptions", "CUMSUM": "CumsumOptions",
    "CONV_3D": "Conv3DOptions", "CONV_3D_TRANSPOSE": "Conv3DOptions", "GELU": "GeluOptions",
    "ONE_HOT": "OneHotOptions", "FAKE_QUANT": "FakeQuantOptions", "UNIQUE": "UniqueOptions",
    "REVERSE_SEQUENCE": "ReverseSequenceOptions", "IF": "IfOptions", "WHILE": "WhileOptions",
    "CALL_ONCE": "CallOnceOptions", "GATHER_ND": "GatherNdOptions", "ABS": "AbsOptions",
    "NEG": "NegOptions", "SELECT": "SelectOptions", "SELECT_V2": "SelectV2Options",
    "FLOOR_DIV": "FloorDivOptions", "FLOOR_MOD": "FloorModOptions", "POW": "PowOptions",
    "SQUARE": "SquareOptions", "ZEROS_LIKE": "ZerosLikeOptions", "FILL": "FillOptions",
    "RANGE": "RangeOptions", "RANK": "RankOptions", "COS": "CosOptions",
    "WHERE": "WhereOptions", "ADD_N": "AddNOptions", "REVERSE_V2": "ReverseV2Options",
    "BROADCAST_TO": "BroadcastToOptions", "EQUAL": "EqualOptions",
    "NOT_EQUAL": "NotEqualOptions", "LESS": "LessOptions", "LESS_EQUAL": "LessEqualOptions",
    "GREATER": "GreaterOptions", "GREATER_EQUAL": "GreaterEqualOptions",
    "LOGICAL_AND": "LogicalAndOptions", "LOGICAL_OR": "LogicalOrOptions",
    "LOGICAL_NOT": "LogicalNotOptions", "SPARSE_TO_DENSE": "SparseToDenseOptions",
    "SKIP_GRAM": "SkipGramOptions", "CONCAT_EMBEDDINGS": "ConcatEmbeddingsOptions",
    "EMBEDDING_LOOKUP_SPARSE": "EmbeddingLookupSparseOptions",
    "MATRIX_DIAG": "MatrixDiagOptions", "MATRIX_SET_DIAG": "MatrixSetDiagOptions",
    "SEGMENT_SUM": "SegmentSumOptions", "SCATTER_ND": "ScatterNdOptions",
    "DENSIFY": "DensifyOptions", "DYNAMIC_UPDATE_SLICE": "DynamicUpdateSliceOptions",
    "BUCKETIZE": "BucketizeOptions", "SIGN": "SignOptions", "BITCAST": "BitcastOptions",
    "BITWISE_XOR": "BitwiseXorOptions", "RIGHT_SHIFT": "RightShiftOptions",
    "ATAN2": "ATan2Options", "RFFT2D": "Rfft2dOptions",
}
