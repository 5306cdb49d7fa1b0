"""docs/ops.md, generated from the kernel registry: `python -m tinykit.codegen.docs [PATH]`.

A test compares the file with `ops_markdown()`, so the table cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinykit.codegen.registry import KERNELS, UNSUPPORTED_HINTS
from tinykit.paths import ROOT

OPS_DOC = ROOT / "docs" / "ops.md"


def ops_markdown() -> str:
    """The op-support table as Markdown."""
    lines = [
        "# Ops supported by `tinykit codegen`",
        "",
        "<!-- Generated from tinykit/codegen/registry.py by `python -m tinykit.codegen.docs`;"
        " do not edit. -->",
        "",
        "Every op below is checked byte for byte against tflite-runtime 2.14 with the",
        "reference op resolver (`BUILTIN_REF`). Activations are int8; weights are int8 with",
        "per-channel or per-tensor scales; float32 appears only at the model's inputs and",
        "outputs (QUANTIZE / DEQUANTIZE). Views cost nothing: the memory planner gives their",
        "output the bytes of their input.",
        "",
        "| op | C kernel | what is supported |",
        "|---|---|---|",
    ]
    for op in sorted(KERNELS):
        entry = KERNELS[op]
        kernels = ", ".join(f"`{k}`" for k in entry.kernels) or "none"
        lines.append(f"| `{op}` | {kernels} | {entry.summary} |")
    lines += [
        "",
        "## Refused, with what to do",
        "",
        "| op or model | why and what to do |",
        "|---|---|",
    ]
    lines += [f"| `{op}` | {hint} |" for op, hint in sorted(UNSUPPORTED_HINTS.items())]
    lines += [
        "| uint8 (legacy) or int16 quantization | convert with full int8 quantization |",
        "| float or hybrid (dynamic-range) models | convert with full int8 quantization and "
        "a representative dataset |",
        "| stateful models (variable tensors) | export a stateless model |",
        "| any other op | replace the layer, or deploy with TensorFlow Lite Micro "
        "(`tinykit arrays`) |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from tinykit.fsutil import write_text_atomic

    target = Path(argv[0]) if argv else OPS_DOC
    write_text_atomic(target, ops_markdown())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
