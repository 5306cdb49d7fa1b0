"""Per-layer figures of the deployed model: work, weights, memory and tensor lifetimes.

Read from the .tflite with tinykit's own reader (no TensorFlow): MACs and weight bytes per
op from `tinykit.tflite.analysis`, the arena plan the generated C uses from
`tinykit.tflite.planner.plan_memory` (default arguments), and, when the benchmark ran,
the instructions (and estimated cycles) each layer took on the target. Layers are listed
in execution order: step s runs op `plan.order[s]`, and the benchmark's per-layer counts
are per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def deployed_layers(model_path: Path, bench: Mapping[str, Any] | None,
                    weights: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """`{"layers": [...], "memory": {...}}` for the report; see the schema for the fields.

    `weights`: the codegen stage's weighted layers (format and bytes in the generated C).
    """
    from tinykit.codegen.generate import arena_plan
    from tinykit.tflite.analysis import analyze_subgraph
    from tinykit.tflite.reader import read_model

    graph = read_model(model_path).main
    analysis = {op.index: op for op in analyze_subgraph(graph).ops}
    plan = arena_plan(graph).plan
    order = list(plan.order) or list(range(len(graph.operators)))
    extent = _arena_extent(plan, len(order))
    measured = list((bench or {}).get("per_layer") or [])
    in_c = {row["op"]: row for row in weights or []}
    layers = []
    for step, index in enumerate(order):
        op = graph.operators[index]
        outputs = [graph.tensors[t] for t in op.outputs if t >= 0]
        row: dict[str, Any] = {
            "step": step, "op": index, "type": op.opcode,
            "output": outputs[0].name if outputs else "",
            "output_shape": list(outputs[0].shape) if outputs else [],
            "macs": analysis[index].macs, "weight_bytes": analysis[index].weight_bytes,
            "output_bytes": sum(t.nbytes for t in outputs),
            "arena_bytes_in_use": extent[step],
            "view": index in plan.view_ops,
            "kernel": None, "instructions": None, "cycles": None, "estimated_cycles": None,
            "weights": in_c[index]["format"] if index in in_c else None,
            "weight_flash_bytes": in_c[index]["bytes"] if index in in_c else None,
        }
        if step < len(measured) and measured[step].get("type") == op.opcode:
            count = measured[step]
            row.update({"kernel": count.get("kernel"), "instructions": count.get("instructions"),
                        "cycles": count.get("cycles"),
                        "estimated_cycles": count.get("estimated_cycles")})
        layers.append(row)
    return {"layers": layers, "memory": _memory(graph, plan)}


def _arena_extent(plan: Any, steps: int) -> list[int]:
    """Per step, the highest arena byte in use (tensors live at that step and scratch)."""
    extent = [0] * steps
    for entry in plan.entries:
        for step in range(max(entry.first_op, 0), min(entry.last_op, steps - 1) + 1):
            extent[step] = max(extent[step], entry.offset + entry.size)
    position = {op: step for step, op in enumerate(plan.order or range(steps))}
    for item in plan.scratch:
        at = position.get(item.op)
        if at is not None:
            extent[at] = max(extent[at], item.offset + item.size)
    return extent


def _memory(graph: Any, plan: Any) -> dict[str, Any]:
    """The arena plan as the lifetime plot needs it: one rectangle per tensor."""
    tensors = [
        {"tensor": e.tensor, "name": graph.tensors[e.tensor].name, "offset": e.offset,
         "size": e.size, "first_step": e.first_op, "last_step": e.last_op,
         "alias_of": e.alias_of}
        for e in plan.entries
    ]
    position = {op: step for step, op in enumerate(plan.order or range(len(graph.operators)))}
    scratch = [{"op": s.op, "step": position.get(s.op, s.op), "offset": s.offset,
                "size": s.size} for s in plan.scratch]
    return {"arena_bytes": plan.arena_bytes, "lower_bound": plan.lower_bound,
            "strategy": plan.strategy, "order": list(plan.order), "tensors": tensors,
            "scratch": scratch, "streams": len(plan.streams)}
