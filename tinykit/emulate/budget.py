"""Refuse a model that cannot fit the target, with the numbers, before anything is built.

Only exact figures refuse: the model's constant bytes against the flash budget, and the
planned arena plus the stack reserve against the RAM budget. The runtime's own code is
an estimate before linking, so it never refuses on its own; the linker has the last
word (a region overflow is a BudgetError too, see tinykit.firmware.build).
"""

from __future__ import annotations

from pathlib import Path

from tinykit.errors import BudgetError
from tinykit.targets import Target
from tinykit.tflite.model import Model

_HINT = ("pick a target with more memory (`tinykit targets`), or make the model smaller; "
         "`tinykit analyze MODEL --target T` shows where the bytes go")


def constant_bytes(model: Model) -> int:
    """Bytes of every constant tensor of the main subgraph (weights, biases, tables)."""
    return sum(len(t.data) for t in model.main.tensors if t.data is not None)


def check_before_build(model_path: Path, target: Target) -> Model:
    """Read the model and raise BudgetError if its exact needs exceed the target's budget."""
    from tinykit.codegen.generate import arena_plan
    from tinykit.tflite.reader import read_model

    model = read_model(model_path)
    arena = arena_plan(model.main).plan.arena_bytes
    check_needs(target, constants=constant_bytes(model), arena=arena)
    return model


def check_needs(target: Target, *, constants: int, arena: int) -> None:
    """BudgetError naming each memory that does not fit, term by term."""
    stack = int(target.get("memory", "stack_bytes", 0))
    problems = []
    if constants > target.flash_bytes:
        problems.append(f"flash: the model's constants alone take {constants:,} B; the budget "
                        f"is {target.flash_bytes:,} B")
    if arena + stack > target.ram_bytes:
        problems.append(f"RAM: tensor arena {arena:,} B + stack {stack:,} B = "
                        f"{arena + stack:,} B; the budget is {target.ram_bytes:,} B")
    if problems:
        raise BudgetError(
            f"the model does not fit {target.name}: " + "; ".join(problems), hint=_HINT)
