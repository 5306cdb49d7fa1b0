"""The model as a library for someone else's firmware: a CMake library or an Arduino library.

    export_library("cmake-lib", "kws.tflite", "out/kws", name="kws", target="cortex-m4")
    export_library("arduino", "kws.tflite", "out/kws", name="kws")

Both hold the C that `tinykit codegen` writes, with the build files around it:
- cmake-lib: CMakeLists.txt (plain CMake, Zephyr library or ESP-IDF component),
  include/NAME.h, src/, cmake/arm-none-eabi.cmake (toolchain file for the target's core);
- arduino: library.properties, src/, examples/Predict (reads a sample over Serial, prints
  the prediction; its logic is in predict_logic.cpp, free of Arduino calls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinykit import __version__
from tinykit.errors import UnsupportedError
from tinykit.firmware.templating import environment, family_dir, render_tree
from tinykit.fsutil import atomic_dir
from tinykit.targets import load_target

_C_TYPES = {
    "int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
    "int32": "int32_t", "uint32": "uint32_t", "float32": "float",
}


def _describe(tensor: Any) -> str:
    shape = "x".join(str(d) for d in tensor.shape) or "scalar"
    text = f"{tensor.name}: {tensor.dtype} [{shape}]"
    quant = tensor.quantization
    if quant is not None and quant.scale:
        text += f", scale {quant.scale[0]:.9g}, zero point {quant.zero_point[0]}"
    return text


def _int_range(dtype: str) -> tuple[int, int]:
    info = np.iinfo(np.dtype(dtype))
    return int(info.min), int(info.max)


def _io_context(sources: Any) -> dict[str, object]:
    """The example's view of input 0 and output 0 (types, counts, quantization)."""
    first_in, first_out = sources.inputs[0].tensor, sources.outputs[0].tensor
    for tensor in (first_in, first_out):
        if tensor.dtype not in _C_TYPES:
            raise UnsupportedError(
                f"the Arduino example cannot read or print {tensor.dtype} tensors "
                f"({tensor.name})", hint="use the cmake-lib template for this model")
    is_float = first_in.dtype == "float32"
    low, high = (0, 0) if is_float else _int_range(first_in.dtype)
    quant = first_out.quantization
    quantized = quant is not None and bool(quant.scale) and first_out.dtype != "float32"
    return {
        "input_ctype": _C_TYPES[first_in.dtype], "output_ctype": _C_TYPES[first_out.dtype],
        "input_count": str(first_in.num_elements), "output_count": str(first_out.num_elements),
        "input_is_float": is_float, "output_is_float": first_out.dtype == "float32",
        "input_min": str(low), "input_max": str(high),
        "input_desc": _describe(first_in), "output_quantized": quantized,
        "output_scale": f"{quant.scale[0]:.9g}" if quantized else "1",
        "output_zero_point": str(quant.zero_point[0]) if quantized else "0",
        "reply_bytes": str(64 + 12 * first_out.num_elements),
    }


def export_library(template: str, model_path: str | Path, out_dir: str | Path, *,
                   name: str = "model", target: str | None = None) -> Path:
    """Generate the model's C and lay it out as a `cmake-lib` or `arduino` library.

    `target` picks the core flags of the CMake toolchain file (default cortex-m4).
    Raises UnsupportedError for a model codegen cannot translate; writes `out_dir`
    atomically (an interrupted export leaves no half library behind).
    """
    from tinykit.codegen.generate import generate_sources
    from tinykit.tflite.reader import read_model

    if template not in ("cmake-lib", "arduino"):
        family_dir(template)  # raises for an unknown family, listing the known ones
        raise UnsupportedError(f"the {template} template is the benchmark firmware",
                               hint="use tinykit bench for it")
    model = read_model(model_path)
    sources = generate_sources(model, name)
    context: dict[str, object] = {
        "name": name, "macro_prefix": name.upper(), "version": __version__,
        "project_version": __version__, "model_file": Path(model_path).name,
        "model_sha256": model.sha256, "arena_bytes": str(sources.arena_bytes),
        "target": load_target(target).name, "cpu_flags": " ".join(load_target(target).cflags),
        "inputs": [_describe(io.tensor) for io in sources.inputs],
        "outputs": [_describe(io.tensor) for io in sources.outputs],
        "sources": sorted(f for f in sources.files if f.endswith(".c")),
    }
    header = f"{name}.h"
    if template == "arduino":
        context.update(_io_context(sources))
    env = environment(template)
    root = family_dir(template)
    files = [str(p.relative_to(root)) for p in root.rglob("*")
             if p.is_file() and not p.name.startswith(".")]
    with atomic_dir(out_dir) as tmp:
        render_tree(env, files, context, tmp)
        for file_name, text in sources.files.items():
            folder = "include" if template == "cmake-lib" and file_name == header else "src"
            path = tmp / folder / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return Path(out_dir)
