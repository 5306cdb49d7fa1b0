"""Integer-only C for a .tflite model, byte-exact with TFLite's reference kernels.

The public API is `codegen` / `generate_sources` (tinykit.codegen.generate) and
`verify` (tinykit.codegen.verify); the kernel table is `tinykit.codegen.registry.KERNELS`.
"""
