"""The weights of generated C as people read them: per layer, format and flash bytes.

`tinykit codegen` prints `weights_lines`; the build's codegen stage and the report use
`weights_summary`, the same figures as JSON.
"""

from __future__ import annotations

from typing import Any

from tinykit.codegen.generate import GeneratedSources
from tinykit.ui import format_table


def weights_summary(sources: GeneratedSources) -> dict[str, Any]:
    """Flash of the model's weights as generated: total, all-dense, per weighted layer.

    `bytes`: the weight arrays in the generated C (dense layouts, or packed indices,
    bitmaps and tables); `dense_bytes`: the same layers all dense; `code_bytes`: the
    estimated flash the packed kernels add (`packing.PACKED_CODE_BYTES`), 0 when none runs.
    """
    plan = sources.weight_plan
    order = list(sources.plan.order) or list(range(len(sources.op_kernels)))
    layers = []
    for step, (kernel, fmt, size) in enumerate(zip(sources.op_kernels, sources.op_weights,
                                                   sources.op_weight_bytes, strict=True)):
        if not fmt:
            continue
        op = order[step]
        layer = plan.layers.get(op) if plan else None
        layers.append({"step": step, "op": op, "type": layer.opcode if layer else "",
                       "kernel": kernel, "format": fmt, "bytes": size,
                       "dense_bytes": layer.dense_bytes if layer else size})
    return {"mode": plan.mode if plan else "auto", "bytes": sources.weight_bytes,
            "dense_bytes": sources.dense_weight_bytes,
            "code_bytes": plan.code_bytes if plan else 0, "layers": layers}


def weights_lines(sources: GeneratedSources, mode: str = "auto") -> list[str]:
    """A table of the weighted layers and one line of totals."""
    summary = weights_summary(sources)
    rows = [(layer["step"], layer["type"], layer["kernel"], layer["format"],
             layer["dense_bytes"], layer["bytes"]) for layer in summary["layers"]]
    if not rows:
        return ["no layer with constant int8 weights"]
    dense, chosen = summary["dense_bytes"], summary["bytes"]
    ratio = f" ({chosen / dense:.2f}x)" if dense else ""
    code = f"; the packed kernels add about {summary['code_bytes']:,} B of code" \
        if summary["code_bytes"] else ""
    return ["", format_table(("step", "op", "kernel", "weights", "dense bytes", "bytes"), rows),
            f"weights ({mode}): {chosen:,} B, dense {dense:,} B{ratio}{code}"]
