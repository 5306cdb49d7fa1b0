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


#: The flash goal of the compression (issue "Fast and small on the chip"): the deployed
#: model's weights at most this share of the plain post-training int8 student's.
GOAL_RATIO = 0.5
GOAL_BASELINE = "student_int8_ptq"


def variant_weights(variants: list[dict[str, Any]], folder: Any, deployed: str,
                    deployed_sources: GeneratedSources) -> dict[str, Any]:
    """Weights in generated C (auto mode) of every int8 variant, and the goal check.

    `variants`: the evaluate stage's rows (name, dtype); `folder` holds their .tflite
    files. The deployed variant's figures come from the C the build generated.
    """
    from tinykit.codegen.generate import generate_sources
    from tinykit.errors import UnsupportedError
    from tinykit.tflite.reader import read_model

    rows: dict[str, Any] = {}
    for variant in variants:
        if variant.get("dtype") != "int8":
            continue
        sources: GeneratedSources | None = deployed_sources
        if variant["name"] != deployed:
            try:
                sources = generate_sources(read_model(folder / f"{variant['name']}.tflite"))
            except UnsupportedError:
                sources = None
        if sources is not None:
            summary = weights_summary(sources)
            rows[variant["name"]] = {key: summary[key] for key in ("bytes", "dense_bytes",
                                                                    "code_bytes")}
    return {"variants": rows, "layers": weights_summary(deployed_sources)["layers"],
            "goal": goal_check(rows, deployed)}


def goal_check(rows: dict[str, Any], deployed: str) -> dict[str, Any] | None:
    """Deployed weights against GOAL_RATIO x the plain int8 student's (None: no baseline)."""
    if deployed not in rows or GOAL_BASELINE not in rows or not rows[GOAL_BASELINE]["bytes"]:
        return None
    ratio = rows[deployed]["bytes"] / rows[GOAL_BASELINE]["bytes"]
    return {"deployed": deployed, "baseline": GOAL_BASELINE,
            "deployed_bytes": rows[deployed]["bytes"],
            "baseline_bytes": rows[GOAL_BASELINE]["bytes"],
            "ratio": round(ratio, 4), "max_ratio": GOAL_RATIO, "met": ratio <= GOAL_RATIO}


def goal_line(goal: dict[str, Any] | None) -> str:
    """One line for people: the goal, the figures and PASS/FAIL."""
    if goal is None:
        return "weights goal: not checked (no C for the deployed or the plain int8 model)"
    return (f"weights goal: deployed {goal['deployed_bytes']:,} B = {goal['ratio']:.2f}x the "
            f"plain int8 student's {goal['baseline_bytes']:,} B (goal <= "
            f"{goal['max_ratio']:.1f}x): {'PASS' if goal['met'] else 'FAIL'}")
