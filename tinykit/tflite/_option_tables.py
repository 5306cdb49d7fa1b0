"""Option tables of the TFLite schema (schema.fbs), written in a compact notation.

Each entry is `TableName: "field field ..."` in slot order, each field `name:type[=default]`:
`bool i8 u8 i16 u16 i32 u32 i64 u64 f32 f64 str`, an enum name from `schema.ENUMS`, or
`[type]` for a vector. `-` marks a deprecated slot that still takes its place in the vtable.
A default is given only when it is not zero/false/empty. Checked field by field against the
flatc-generated module of ai-edge-litert by tests/unit/test_tflite_schema.py.
"""

from __future__ import annotations

OPTION_TABLE_SPECS: dict[str, str] = {
    "ATan2Options": "",
    "AbsOptions": "",
    "AddNOptions": "",
    "AddOptions": "fused_activation_function:ActivationFunctionType pot_scale_int16:bool=true",
    "ArgMaxOptions": "output_type:TensorType",
    "ArgMinOptions": "output_type:TensorType",
    "AssignVariableOptions": "",
    "BatchMatMulOptions": "adj_x:bool adj_y:bool asymmetric_quantize_inputs:bool",
    "BatchToSpaceNDOptions": "",
    "BidirectionalSequenceLSTMOptions": (
        "fused_activation_function:ActivationFunctionType cell_clip:f32 proj_clip:f32 "
        "merge_outputs:bool time_major:bool=true asymmetric_quantize_inputs:bool"
    ),
    "BidirectionalSequenceRNNOptions": (
        "time_major:bool fused_activation_function:ActivationFunctionType merge_outputs:bool "
        "asymmetric_quantize_inputs:bool"
    ),
    "BitcastOptions": "",
    "BitwiseXorOptions": "",
    "BroadcastToOptions": "",
    "BucketizeOptions": "boundaries:[f32]",
    "CallOnceOptions": "init_subgraph_index:i32",
    "CallOptions": "subgraph:u32",
    "CastOptions": "in_data_type:TensorType out_data_type:TensorType",
    "ConcatEmbeddingsOptions": (
        "num_channels:i32 num_columns_per_channel:[i32] embedding_dim_per_channel:[i32]"
    ),
    "ConcatenationOptions": "axis:i32 fused_activation_function:ActivationFunctionType",
    "Conv2DOptions": (
        "padding:Padding stride_w:i32 stride_h:i32 "
        "fused_activation_function:ActivationFunctionType dilation_w_factor:i32=1 "
        "dilation_h_factor:i32=1 quantized_bias_type:TensorType"
    ),
    "Conv3DOptions": (
        "padding:Padding stride_d:i32 stride_w:i32 stride_h:i32 "
        "fused_activation_function:ActivationFunctionType dilation_d_factor:i32=1 "
        "dilation_w_factor:i32=1 dilation_h_factor:i32=1"
    ),
    "CosOptions": "",
    "CumsumOptions": "exclusive:bool reverse:bool",
    "DensifyOptions": "",
    "DepthToSpaceOptions": "block_size:i32",
    "DepthwiseConv2DOptions": (
        "padding:Padding stride_w:i32 stride_h:i32 depth_multiplier:i32 "
        "fused_activation_function:ActivationFunctionType dilation_w_factor:i32=1 "
        "dilation_h_factor:i32=1"
    ),
    "DequantizeOptions": "",
    "DilateOptions": "",
    "DivOptions": "fused_activation_function:ActivationFunctionType",
    "DynamicUpdateSliceOptions": "",
    "EmbeddingLookupSparseOptions": "combiner:CombinerType",
    "EqualOptions": "",
    "ExpOptions": "",
    "ExpandDimsOptions": "",
    "FakeQuantOptions": "min:f32 max:f32 num_bits:i32 narrow_range:bool",
    "FillOptions": "",
    "FloorDivOptions": "",
    "FloorModOptions": "",
    "FullyConnectedOptions": (
        "fused_activation_function:ActivationFunctionType "
        "weights_format:FullyConnectedOptionsWeightsFormat keep_num_dims:bool "
        "asymmetric_quantize_inputs:bool quantized_bias_type:TensorType quant_spec:[u8]"
    ),
    "GatherNdOptions": "",
    "GatherOptions": "axis:i32 batch_dims:i32",
    "GeluOptions": "approximate:bool",
    "GreaterEqualOptions": "",
    "GreaterOptions": "",
    "HardSwishOptions": "",
    "HashtableFindOptions": "",
    "HashtableImportOptions": "",
    "HashtableOptions": "table_id:i32 key_dtype:TensorType value_dtype:TensorType",
    "HashtableSizeOptions": "",
    "IfOptions": "then_subgraph_index:i32 else_subgraph_index:i32",
    "L2NormOptions": "fused_activation_function:ActivationFunctionType",
    "LSHProjectionOptions": "type:LSHProjectionType",
    "LSTMOptions": (
        "fused_activation_function:ActivationFunctionType cell_clip:f32 proj_clip:f32 "
        "kernel_type:LSTMKernelType asymmetric_quantize_inputs:bool"
    ),
    "LeakyReluOptions": "alpha:f32",
    "LessEqualOptions": "",
    "LessOptions": "",
    "LocalResponseNormalizationOptions": "radius:i32 bias:f32 alpha:f32 beta:f32",
    "LogSoftmaxOptions": "",
    "LogicalAndOptions": "",
    "LogicalNotOptions": "",
    "LogicalOrOptions": "",
    "MatrixDiagOptions": "",
    "MatrixSetDiagOptions": "",
    "MaximumMinimumOptions": "",
    "MirrorPadOptions": "mode:MirrorPadMode",
    "MulOptions": "fused_activation_function:ActivationFunctionType",
    "NegOptions": "",
    "NonMaxSuppressionV4Options": "",
    "NonMaxSuppressionV5Options": "",
    "NotEqualOptions": "",
    "OneHotOptions": "axis:i32",
    "PackOptions": "values_count:i32 axis:i32",
    "PadOptions": "",
    "PadV2Options": "",
    "Pool2DOptions": (
        "padding:Padding stride_w:i32 stride_h:i32 filter_width:i32 filter_height:i32 "
        "fused_activation_function:ActivationFunctionType"
    ),
    "PowOptions": "",
    "QuantizeOptions": "",
    "RNNOptions": (
        "fused_activation_function:ActivationFunctionType asymmetric_quantize_inputs:bool"
    ),
    "RandomOptions": "seed:i64 seed2:i64",
    "RangeOptions": "",
    "RankOptions": "",
    "ReadVariableOptions": "",
    "ReduceWindowOptions": "reduce_function:ReduceWindowFunction",
    "ReducerOptions": "keep_dims:bool",
    "ReshapeOptions": "new_shape:[i32]",
    "ResizeBilinearOptions": "- - align_corners:bool half_pixel_centers:bool",
    "ResizeNearestNeighborOptions": "align_corners:bool half_pixel_centers:bool",
    "ReverseSequenceOptions": "seq_dim:i32 batch_dim:i32",
    "ReverseV2Options": "",
    "Rfft2dOptions": "",
    "RightShiftOptions": "",
    "SVDFOptions": (
        "rank:i32 fused_activation_function:ActivationFunctionType "
        "asymmetric_quantize_inputs:bool"
    ),
    "ScatterNdOptions": "",
    "SegmentSumOptions": "",
    "SelectOptions": "",
    "SelectV2Options": "",
    "SequenceRNNOptions": (
        "time_major:bool fused_activation_function:ActivationFunctionType "
        "asymmetric_quantize_inputs:bool"
    ),
    "ShapeOptions": "out_type:TensorType",
    "SignOptions": "",
    "SkipGramOptions": "ngram_size:i32 max_skip_size:i32 include_all_ngrams:bool",
    "SliceOptions": "",
    "SoftmaxOptions": "beta:f32",
    "SpaceToBatchNDOptions": "",
    "SpaceToDepthOptions": "block_size:i32",
    "SparseToDenseOptions": "validate_indices:bool",
    "SplitOptions": "num_splits:i32",
    "SplitVOptions": "num_splits:i32",
    "SquareOptions": "",
    "SquaredDifferenceOptions": "",
    "SqueezeOptions": "squeeze_dims:[i32]",
    "StableHLOCompositeOptions": (
        "name:str decomposition_subgraph_index:i32 composite_attributes:[u8] "
        "composite_attributes_format:CustomOptionsFormat version:i32"
    ),
    "StablehloBroadcastInDimOptions": "broadcast_dimensions:[i64]",
    "StablehloCaseOptions": "branch_subgraph_indices:[i32]",
    "StablehloCompareOptions": (
        "comparison_direction:StablehloComparisonDirection "
        "compare_type:StablehloComparisonType"
    ),
    "StablehloConcatenateOptions": "dimension:i64",
    "StablehloConvolutionOptions": (
        "window_strides:[i64] padding:[i64] lhs_dilation:[i64] rhs_dilation:[i64] "
        "window_reversal:[bool] input_batch_dimension:i64 input_feature_dimension:i64 "
        "input_spatial_dimensions:[i64] kernel_input_feature_dimension:i64 "
        "kernel_output_feature_dimension:i64 kernel_spatial_dimensions:[i64] "
        "output_batch_dimension:i64 output_feature_dimension:i64 "
        "output_spatial_dimensions:[i64] feature_group_count:i64 batch_group_count:i64 "
        "precision_config:[StablehloPrecisionConfig]"
    ),
    "StablehloCustomCallOptions": (
        "call_target_name:str has_side_effect:bool backend_config:str api_version:i32 "
        "called_computations:[i32] custom_attributes:[u8]"
    ),
    "StablehloDotGeneralOptions": (
        "lhs_batching_dimensions:[i64] rhs_batching_dimensions:[i64] "
        "lhs_contracting_dimensions:[i64] rhs_contracting_dimensions:[i64] "
        "precision_config:[StablehloPrecisionConfig]"
    ),
    "StablehloDynamicSliceOptions": "slice_sizes:[i64]",
    "StablehloGatherOptions": (
        "offset_dims:[i64] collapsed_slice_dims:[i64] start_index_map:[i64] "
        "index_vector_dim:i64 slice_sizes:[i64] indices_are_sorted:bool"
    ),
    "StablehloIotaOptions": "iota_dimension:i64",
    "StablehloPadOptions": "edge_padding_low:[i64] edge_padding_high:[i64] interior_padding:[i64]",
    "StablehloReduceOptions": "dimensions:[i64] body_subgraph_index:i32",
    "StablehloReduceWindowOptions": (
        "window_dimensions:[i64] window_strides:[i64] base_dilations:[i64] "
        "window_dilations:[i64] padding:[i64] body_subgraph_index:i32"
    ),
    "StablehloRngBitGeneratorOptions": "algorithm:RngAlgorithm",
    "StablehloScatterOptions": (
        "indices_are_sorted:bool update_window_dims:[i64] inserted_window_dims:[i64] "
        "scatter_dims_to_operand_dims:[i64] index_vector_dim:i64 unique_indices:bool "
        "update_computation_subgraph_index:i32"
    ),
    "StablehloShiftLeftOptions": "",
    "StablehloSliceOptions": "start_indices:[i64] limit_indices:[i64] strides:[i64]",
    "StablehloSortOptions": "dimension:i64 is_stable:bool comparator_subgraph_index:i32",
    "StablehloTransposeOptions": "permutation:[i64]",
    "StablehloWhileOptions": "cond_subgraph_index:i32 body_subgraph_index:i32",
    "StridedSliceOptions": (
        "begin_mask:i32 end_mask:i32 ellipsis_mask:i32 new_axis_mask:i32 shrink_axis_mask:i32 "
        "offset:bool"
    ),
    "SubOptions": "fused_activation_function:ActivationFunctionType pot_scale_int16:bool=true",
    "TileOptions": "",
    "TopKV2Options": "",
    "TransposeConvOptions": (
        "padding:Padding stride_w:i32 stride_h:i32 "
        "fused_activation_function:ActivationFunctionType quantized_bias_type:TensorType"
    ),
    "TransposeOptions": "",
    "UnidirectionalSequenceLSTMOptions": (
        "fused_activation_function:ActivationFunctionType cell_clip:f32 proj_clip:f32 "
        "time_major:bool asymmetric_quantize_inputs:bool diagonal_recurrent_tensors:bool"
    ),
    "UniqueOptions": "idx_out_type:TensorType=INT32",
    "UnpackOptions": "num:i32 axis:i32",
    "UnsortedSegmentMaxOptions": "",
    "UnsortedSegmentMinOptions": "",
    "UnsortedSegmentProdOptions": "",
    "UnsortedSegmentSumOptions": "",
    "VarHandleOptions": "container:str shared_name:str",
    "WhereOptions": "",
    "WhileOptions": "cond_subgraph_index:i32 body_subgraph_index:i32",
    "ZerosLikeOptions": "",
}
