"""Does a model fit a target? Flash and RAM needed, term by term, against the budget.

Flash needed = the model's constant data (exact: every constant buffer the ops read,
counted once) + a runtime allowance (an ESTIMATE: the generated code, kernels and
per-channel requantization parameters; see `runtime_estimate`). RAM needed = the planned
arena (exact) + the target's stack reserve ([memory] stack_bytes). Being over budget is
a verdict, not an error: `FitCheck.fits` is False and the CLI exits with status 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinykit.tflite.analysis import SubgraphAnalysis
from tinykit.tflite.model import Subgraph

#: Bytes of Thumb-2 code (-Os) of one kernel, per op type; other ops take DEFAULT_KERNEL.
#: Rough sizes of integer reference-style kernels with their DSP variants; an estimate.
KERNEL_BYTES = {
    "CONV_2D": 3072, "DEPTHWISE_CONV_2D": 2560, "FULLY_CONNECTED": 1280,
    "AVERAGE_POOL_2D": 768, "MAX_POOL_2D": 640, "SOFTMAX": 1536, "ADD": 1024, "MUL": 896,
    "SVDF": 2048, "UNIDIRECTIONAL_SEQUENCE_LSTM": 6144, "RESHAPE": 0, "SQUEEZE": 0,
    "EXPAND_DIMS": 0,
}
DEFAULT_KERNEL = 1024
#: Start-up code, vector table, the invoke function's frame and libc helpers.
BASE_RUNTIME = 4096
#: Generated call and parameter struct per op.
PER_OP = 64
#: Requantization multiplier and shift (two int32) per output channel of a quantized op.
PER_CHANNEL = 8


@dataclass(frozen=True)
class Term:
    """One addend of a memory need; `estimate` marks numbers that are not exact."""

    label: str
    bytes: int
    estimate: bool = False


@dataclass(frozen=True)
class Budget:
    """Need versus budget for one memory (flash or RAM)."""

    memory: str
    terms: tuple[Term, ...]
    budget: int

    @property
    def needed(self) -> int:
        return sum(term.bytes for term in self.terms)

    @property
    def margin(self) -> int:
        """Budget minus need: negative when over budget."""
        return self.budget - self.needed

    @property
    def fits(self) -> bool:
        return self.margin >= 0


@dataclass(frozen=True)
class FitCheck:
    """The verdict for one target."""

    target: str
    flash: Budget
    ram: Budget

    @property
    def fits(self) -> bool:
        return self.flash.fits and self.ram.fits


def runtime_estimate(subgraph: Subgraph) -> int:
    """Estimated flash of the runtime: base + one kernel per op type + per op + per channel.

    Per-channel parameters count the output channels (last dimension of the output) of
    every op whose weights are quantized.
    """
    kinds = {op.opcode for op in subgraph.operators}
    total = BASE_RUNTIME + sum(KERNEL_BYTES.get(kind, DEFAULT_KERNEL) for kind in kinds)
    total += PER_OP * len(subgraph.operators)
    for op in subgraph.operators:
        if len(op.inputs) > 1 and op.inputs[1] >= 0 and op.outputs and op.outputs[0] >= 0:
            weight = subgraph.tensors[op.inputs[1]]
            output = subgraph.tensors[op.outputs[0]]
            if weight.is_constant and weight.quantization is not None and output.shape:
                total += PER_CHANNEL * output.shape[-1]
    return total


def check_fit(
    subgraph: Subgraph, analysis: SubgraphAnalysis, arena_bytes: int, *, target: str,
    flash_bytes: int, ram_bytes: int, stack_bytes: int,
) -> FitCheck:
    """Flash and RAM needed by the model on a target with these budgets."""
    flash = Budget("flash", (
        Term("constant data (weights, biases, shapes)", analysis.weights_bytes),
        Term("runtime code and op parameters", runtime_estimate(subgraph), estimate=True),
    ), flash_bytes)
    ram = Budget("RAM", (
        Term("tensor arena (planned)", arena_bytes),
        Term("stack reserve ([memory] stack_bytes)", stack_bytes),
    ), ram_bytes)
    return FitCheck(target, flash, ram)
