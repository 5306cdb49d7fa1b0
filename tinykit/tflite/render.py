"""How `tinykit analyze` shows its result: a text table for people, one JSON object for tools.

Names inside a model (tensors, subgraphs, custom op codes, the description) are data from
whoever wrote the file and may hold newlines or terminal escape codes: the text output
shows them through `clean`, which escapes every non-printable character; JSON escapes
them by itself. Non-finite floats (NaN scales in a damaged model) become null in JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tinykit.tflite.analyze import AnalyzeResult
from tinykit.tflite.fit import Budget, FitCheck
from tinykit.tflite.model import Subgraph, Tensor
from tinykit.tflite.planner import MemoryPlan
from tinykit.ui import format_table, human_bytes

_SHORT_TYPES = {"float32": "f32", "float16": "f16", "int32": "i32", "uint8": "u8",
                "int64": "i64", "int16": "i16", "int8": "i8", "float64": "f64", "bool": "bool"}


def clean(text: str, limit: int = 48) -> str:
    """Printable form of untrusted text: control characters escaped, long text cut."""
    out = "".join(
        ch if ch.isprintable() else (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in text
    )
    return out if len(out) <= limit else out[:limit - 1] + "…"


def _brief(tensor: Tensor) -> str:
    dims = "x".join(str(d) for d in tensor.shape) or "scalar"
    return f"{_SHORT_TYPES.get(tensor.dtype, tensor.dtype)} {dims}"


def _activations(indices: tuple[int, ...], subgraph: Subgraph) -> str:
    return ", ".join(_brief(subgraph.tensors[t]) for t in indices
                     if t >= 0 and not (subgraph.tensors[t].is_constant
                                        and not subgraph.tensors[t].is_variable))


def _io_line(label: str, indices: tuple[int, ...], subgraph: Subgraph) -> str:
    parts = []
    for t in indices:
        tensor = subgraph.tensors[t]
        q = tensor.quantization
        quant = "" if q is None else (
            f" per-channel({len(q.scale)})" if q.per_channel
            else f" scale {q.scale[0]:.6g} zero point {q.zero_point[0]}")
        parts.append(f"{clean(tensor.name, 32) or '(unnamed)'} {_brief(tensor)}{quant}")
    return f"{label:<8}" + ("; ".join(parts) or "-")


def text(result: AnalyzeResult, *, show_plan: bool = False) -> str:
    """The human report: header, op table, totals, optional plan, optional fit."""
    model, subgraph, plan = result.model, result.model.main, result.plan
    lines = [
        f"model   {clean(str(result.path), 80)}  ({model.size_bytes:,} bytes, "
        f"sha256 {model.sha256[:12]}, {clean(model.description, 40) or 'no description'})",
        f"graph   {len(model.subgraphs)} subgraph(s); the first has "
        f"{len(subgraph.operators)} ops and {len(subgraph.tensors)} tensors",
        _io_line("inputs", subgraph.inputs, subgraph),
        _io_line("outputs", subgraph.outputs, subgraph),
        "",
    ]
    rows = []
    for info, op in zip(result.analysis.ops, subgraph.operators, strict=True):
        rows.append((info.index, clean(info.opcode, 32), _activations(op.inputs, subgraph),
                     _activations(op.outputs, subgraph), info.weight_quantization,
                     info.weight_bytes, info.macs))
    lines.append(format_table(("#", "op", "inputs", "outputs", "weights quant",
                               "weight bytes", "MACs"), rows))
    a = result.analysis
    lines += [
        "",
        f"MACs total        {a.macs_total:,}",
        f"weights           {a.weights_bytes:,} bytes ({human_bytes(a.weights_bytes)})",
        f"arena             {plan.arena_bytes:,} bytes ({human_bytes(plan.arena_bytes)}), "
        + (f"offsets aligned as the kernels need, at least {plan.alignment} bytes"
           if plan.alignment > 1 else "offsets aligned as the kernels need"),
        f"  lower bound     {plan.lower_bound:,} bytes (largest set of bytes live together)",
        f"  streams         {len(plan.streams)} ops write over the input they read "
        "(docs/analyze.md)",
        *([f"  kernel scratch  adds {plan.arena_bytes - result.arena_without_scratch:,} bytes "
           f"(activations alone: {result.arena_without_scratch:,} bytes)"]
          if result.arena_without_scratch is not None else []),
        f"  all activations {a.activation_bytes:,} bytes (sum of every non-constant tensor)",
        *([f"  note            {clean(result.plan_note, 400)}"] if result.plan_note else []),
    ]
    if plan.reordered:
        lines.append(f"  order           ops run as {', '.join(map(str, plan.order))} "
                     "(independent branches reordered for a smaller arena)")
    if show_plan:
        lines += ["", plan_table(plan, subgraph)]
    if result.fit is not None:
        lines += ["", fit_text(result.fit)]
    return "\n".join(lines)


def plan_table(plan: MemoryPlan, subgraph: Subgraph) -> str:
    """The arena plan, one row per tensor and scratch buffer, sorted by offset."""
    streamed_by = {s.source: s for s in plan.streams.values()}
    writes = {s.result: s for s in plan.streams.values()}
    rows: list[tuple[Any, ...]] = []
    for e in sorted(plan.entries, key=lambda e: (e.offset, e.tensor)):
        note = f"view of {e.alias_of}" if e.alias_of is not None else ""
        if e.tensor in writes:
            w = writes[e.tensor]
            note = (f"in place over {w.source} (op {w.op})" if w.distance == 0 else
                    f"streams over {w.source} (op {w.op}, {w.distance:,} B before it)")
        if e.tensor in streamed_by and not note:
            note = f"overwritten while op {streamed_by[e.tensor].op} reads it"
        tensor = subgraph.tensors[e.tensor]
        if tensor.is_variable:
            note = "variable: kept across invocations"
        rows.append((e.tensor, clean(tensor.name, 40) or "-", e.offset, e.size,
                     e.first_op, e.last_op, note))
    for item in plan.scratch:
        step = plan.order.index(item.op) if item.op in plan.order else item.op
        rows.append(("-", f"scratch of op {item.op}", item.offset, item.size, step, step, ""))
    header = f"arena plan: {plan.arena_bytes:,} bytes, strategy {plan.strategy}"
    # first/last op count steps of plan.order (the op indices unless ops were reordered)
    table = format_table(("tensor", "name", "offset", "size", "first op", "last op", "shares"),
                         rows)
    return header + "\n" + table


def _budget_lines(budget: Budget) -> list[str]:
    lines = []
    for i, term in enumerate(budget.terms):
        label = term.label + (" (estimate)" if term.estimate else "")
        lines.append(f"  {budget.memory if i == 0 else '':<6}{label:<52}{term.bytes:>12,}")
    share = 100.0 * budget.margin / budget.budget if budget.budget else 0.0
    lines += [
        f"  {'':<6}{'needed':<52}{budget.needed:>12,}",
        f"  {'':<6}{'budget':<52}{budget.budget:>12,}",
        f"  {'':<6}{'margin':<52}{budget.margin:>+12,}  ({share:+.1f}% of budget)",
    ]
    return lines


def fit_text(fit: FitCheck) -> str:
    lines = [f"fit on {fit.target} (bytes)"]
    lines += _budget_lines(fit.flash) + _budget_lines(fit.ram)
    over = [f"{b.memory} over by {-b.margin:,} bytes" for b in (fit.flash, fit.ram)
            if not b.fits]
    lines.append("verdict: FITS" if fit.fits else "verdict: DOES NOT FIT (" + "; ".join(over)
                 + ")")
    return "\n".join(lines)


# --- JSON --------------------------------------------------------------------------------


def _safe(value: Any) -> Any:
    """JSON-ready: tuples to lists, non-finite floats to None, bytes to their length."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return len(value)
    return value


def _tensor_json(tensor: Tensor, plan: MemoryPlan) -> dict[str, Any]:
    q = tensor.quantization
    try:
        entry = plan.entry(tensor.index)
        arena: dict[str, Any] | None = {
            "offset": entry.offset, "first_op": entry.first_op, "last_op": entry.last_op,
            "alias_of": entry.alias_of, "alignment": entry.alignment}
    except KeyError:
        arena = None
    return {
        "index": tensor.index, "name": tensor.name, "shape": list(tensor.shape),
        "shape_signature": list(tensor.shape_signature), "dtype": tensor.dtype,
        "bytes": tensor.nbytes, "constant": tensor.is_constant and not tensor.is_variable,
        "variable": tensor.is_variable,
        "quantization": None if q is None else {
            "scale": list(q.scale), "zero_point": list(q.zero_point),
            "quantized_dimension": q.quantized_dimension, "per_channel": q.per_channel},
        "arena": arena,
    }


def as_json(result: AnalyzeResult) -> dict[str, Any]:
    """One JSON object: model, ops, totals, tensors, the plan and the fit (or null)."""
    model, subgraph, a, plan = result.model, result.model.main, result.analysis, result.plan
    ops = [
        {"index": info.index, "type": info.opcode, "version": op.version,
         "inputs": list(op.inputs), "outputs": list(op.outputs), "macs": info.macs,
         "formula": info.formula, "weight_bytes": info.weight_bytes,
         "weight_quantization": info.weight_quantization, "options": dict(op.options)}
        for info, op in zip(a.ops, subgraph.operators, strict=True)
    ]
    fit = None
    if result.fit is not None:
        fit = {"target": result.fit.target, "fits": result.fit.fits}
        for budget in (result.fit.flash, result.fit.ram):
            fit[budget.memory.lower()] = {
                "needed": budget.needed, "budget": budget.budget, "margin": budget.margin,
                "fits": budget.fits,
                "terms": [{"label": t.label, "bytes": t.bytes, "estimate": t.estimate}
                          for t in budget.terms]}
    return _safe({
        "model": {"path": str(result.path), "sha256": model.sha256,
                  "size_bytes": model.size_bytes, "description": model.description,
                  "schema_version": model.version, "subgraphs": len(model.subgraphs)},
        "inputs": list(subgraph.inputs), "outputs": list(subgraph.outputs),
        "ops": ops, "macs_total": a.macs_total, "weights_bytes": a.weights_bytes,
        "arena_bytes": plan.arena_bytes, "lower_bound": plan.lower_bound,
        "arena_without_scratch": result.arena_without_scratch,
        "plan_note": result.plan_note,
        "activation_bytes": a.activation_bytes,
        "tensors": [_tensor_json(t, plan) for t in subgraph.tensors],
        "plan": plan.as_dict(), "fit": fit,
    })


def json_text(result: AnalyzeResult) -> str:
    """The JSON object on one line (pipe it through `jq` to read it)."""
    return json.dumps(as_json(result), allow_nan=False)
