"""The `analyze` stage: read a .tflite, count its work, plan its arena, check the fit.

`analyze(AnalyzeOptions(model=path, target="cortex-m4"))` is the library call behind
`tinykit analyze`; it imports no TensorFlow. `tinykit.tflite.render` turns the result into
the text table and the JSON object the command prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tinykit.tflite.analysis import SubgraphAnalysis, analyze_subgraph
from tinykit.tflite.fit import FitCheck, check_fit
from tinykit.tflite.model import Model
from tinykit.tflite.planner import DEFAULT_ALIGNMENT, MemoryPlan, plan_memory
from tinykit.tflite.reader import read_model

#: Stack reserve when a target file does not set [memory] stack_bytes.
DEFAULT_STACK_BYTES = 4096


@dataclass(frozen=True)
class AnalyzeOptions:
    """What to analyze: the model file, an optional target name, the arena alignment."""

    model: Path
    target: str | None = None
    alignment: int = DEFAULT_ALIGNMENT
    #: op index -> scratch bytes of its kernel; None: the plan the generated C uses
    #: (`tinykit.codegen.generate.arena_plan`), with its kernels' scratch.
    scratch: Mapping[int, int] | None = None


@dataclass(frozen=True)
class AnalyzeResult:
    """The model, its analysis and plan (first subgraph), and the fit when a target was given."""

    path: Path
    model: Model
    analysis: SubgraphAnalysis
    plan: MemoryPlan
    fit: FitCheck | None
    #: Arena bytes of the same plan without the kernels' scratch buffers (None: no scratch).
    arena_without_scratch: int | None = None
    #: Why the plan is not the generated C's (tinykit codegen cannot run the model).
    plan_note: str | None = None


def analyze(options: AnalyzeOptions) -> AnalyzeResult:
    """Run the stage. Raises ModelError/UnsupportedError for models, TargetError for targets."""
    target = None
    if options.target is not None:
        from tinykit.targets import load_target

        target = load_target(options.target)  # an unknown target fails before the work
    model = read_model(options.model)
    subgraph = model.main
    analysis = analyze_subgraph(subgraph)
    note = None
    if options.scratch is None and options.alignment == DEFAULT_ALIGNMENT:
        # The codegen import is light (no TensorFlow) and keeps one source of kernel choice.
        from tinykit.codegen.generate import arena_plan

        chosen = arena_plan(subgraph)
        plan, note = chosen.plan, chosen.note
    else:
        plan = plan_memory(subgraph, alignment=options.alignment, scratch=options.scratch or {})
    bare = None
    if any(item.size for item in plan.scratch):
        bare = plan_memory(subgraph, alignment=options.alignment, scratch={}).arena_bytes
    fit = None
    if target is not None:
        stack = target.get("memory", "stack_bytes", DEFAULT_STACK_BYTES)
        fit = check_fit(subgraph, analysis, plan.arena_bytes, target=target.name,
                        flash_bytes=target.flash_bytes, ram_bytes=target.ram_bytes,
                        stack_bytes=int(stack))
    return AnalyzeResult(Path(options.model), model, analysis, plan, fit, bare, note)
