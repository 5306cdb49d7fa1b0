"""The build report as one JSON-able dict, assembled from the stages' artifacts.

The schema is `tinykit/report/schema/report-v1.json` (JSON Schema 2020-12, shipped with
tinykit; `docs/report.md` explains every section). Top level: `schema_version`,
`tinykit_version`, `target` (name) and `target_budget`, `config_hash` (SHA-256 of the
canonical config), `config`, `seed`, `data` (splits, class counts and weights, check
findings), `training` (one history per fit: teacher, student, prune, cluster, qat),
`variants`, `deployed`, `comparison` (deployed versus teacher), `statistics` (from
predictions.npz: bootstrap intervals, per-class figures, calibration, paired tests),
`codegen`, `weights` (flash of the weights in the generated C per int8 variant and per
layer, and the goal against the plain int8 student), `on_target` (what `tinykit bench
--json` gives for the deployed model),
`layers` and `memory` (per-layer work, weights, arena use and tensor lifetimes),
`verdict` (fit, correctness and cost on the target), `timings`, `files` and `stages`
(the summary of every other stage, so stages appended later appear without changes here).

Each variant: `name`, `description`, `dtype`, `file`, `tflite_bytes`, `accuracy` (0..1,
test split), `test_samples`, `sparsity` (fraction of zero weights in conv and dense
kernels), `max_unique_weights_per_channel`, `kernel_weights`, `layers`, `ops`, `sha256`,
`agreement` (predicted classes equal to the float twin's: `test`, `check` on seeded
synthetic inputs), `deployed`, and for the target: `arena_bytes`, `flash_needed`,
`ram_needed`, `fits`, and `weight_bytes` / `dense_weight_bytes` (int8 variants: weights in
the generated C, packed where it pays / all dense).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tinykit import __version__
from tinykit.config import to_dict
from tinykit.report.layers import deployed_layers
from tinykit.report.predictions import load_predictions, statistics
from tinykit.report.validate import SCHEMA_VERSION
from tinykit.report.verdict import verdict

#: Stages whose summaries already have their own section of the report.
_REPORTED_ELSEWHERE = ("data", "teacher", "student", "compress", "evaluate", "budget",
                       "codegen", "bench")


def _histories(artifacts: Mapping[str, Any]) -> dict[str, Any]:
    fits: dict[str, Any] = {}
    for name in ("teacher", "student"):
        if name in artifacts:
            fits[name] = artifacts[name].summary.get("history")
    if "compress" in artifacts:
        for history in artifacts["compress"].summary.get("histories", []):
            fits[history["name"]] = history
    return fits


def _variants(artifacts: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = [dict(v) for v in artifacts["evaluate"].summary["variants"]]
    budget = artifacts["budget"].summary["variants"] if "budget" in artifacts else {}
    weights = (_weights(artifacts) or {}).get("variants", {})
    for row in rows:
        row.update(budget.get(row["name"], {}))
        found = weights.get(row["name"])
        row["weight_bytes"] = found["bytes"] if found else None
        row["dense_weight_bytes"] = found["dense_bytes"] if found else None
    return rows


def _weights(artifacts: Mapping[str, Any]) -> dict[str, Any] | None:
    """The codegen stage's weights in generated C (None when no C was generated)."""
    codegen = artifacts["codegen"].summary if "codegen" in artifacts else {}
    weights = codegen.get("weights")
    return dict(weights) if weights else None


def _comparison(variants: list[dict[str, Any]], deployed: str) -> dict[str, Any]:
    by_name = {v["name"]: v for v in variants}
    teacher, chosen = by_name.get("teacher_float"), by_name.get(deployed)
    if not teacher or not chosen:
        return {}
    return {
        "teacher_accuracy": teacher["accuracy"],
        "deployed_accuracy": chosen["accuracy"],
        "accuracy_drop_points": round(100 * (teacher["accuracy"] - chosen["accuracy"]), 3),
        "size_ratio_vs_teacher": round(chosen["tflite_bytes"] / teacher["tflite_bytes"], 4),
    }


def _on_target(ctx: Any, deployed: dict[str, Any]) -> dict[str, Any]:
    """statistics, codegen, on_target, layers, memory and verdict."""
    artifacts = ctx.artifacts
    evaluate = artifacts["evaluate"]
    bench = dict(artifacts["bench"].summary) if "bench" in artifacts else None
    codegen = dict(artifacts["codegen"].summary) if "codegen" in artifacts else None
    weights = _weights(artifacts)
    per_layer = deployed_layers(evaluate.file(deployed["file"]), bench,
                                (weights or {}).get("layers"))
    if codegen is not None:
        codegen.pop("weights", None)  # its own section
    return {
        "statistics": statistics(load_predictions(evaluate.file("predictions.npz"))),
        "codegen": codegen,
        "weights": weights,
        "on_target": bench,
        "layers": per_layer["layers"],
        "memory": per_layer["memory"],
        "verdict": verdict(_budget(ctx.target), deployed, bench),
    }


def _budget(target: Any) -> dict[str, Any]:
    return {"core": target.core, "clock_hz": target.clock_hz,
            "flash_bytes": target.flash_bytes, "ram_bytes": target.ram_bytes,
            "stack_bytes": int(target.get("memory", "stack_bytes", 0) or 0),
            "emulator": target.qemu_machine or None, "kind": target.kind,
            "description": target.description}


def assemble(ctx: Any, files: list[str]) -> dict[str, Any]:
    """The report of the build that `ctx` (the report stage's context) belongs to."""
    artifacts = ctx.artifacts
    target = ctx.target
    variants = _variants(artifacts)
    deployed = artifacts["evaluate"].summary.get("deployed", "")
    chosen = next(v for v in variants if v["name"] == deployed)
    total = sum(t["seconds"] for t in ctx.timings.values())
    return {
        "schema_version": SCHEMA_VERSION,
        "tinykit_version": __version__,
        "target": target.name,
        "target_budget": _budget(target),
        "config_hash": ctx.config.digest(),
        "config_file": ctx.config.source_file,
        "config": to_dict(ctx.config),
        "seed": ctx.config.seed,
        "data": artifacts["data"].summary,
        "training": _histories(artifacts),
        "variants": variants,
        "deployed": deployed,
        "comparison": _comparison(variants, deployed),
        **_on_target(ctx, chosen),
        "timings": dict(ctx.timings),
        "total_seconds": round(total, 3),
        "files": sorted(files),
        "stages": {name: dict(a.summary) for name, a in artifacts.items()
                   if name not in _REPORTED_ELSEWHERE},
    }
