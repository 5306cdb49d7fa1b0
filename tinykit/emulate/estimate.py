"""Executed instruction classes to estimated cycles, per inference, class and layer.

`ClassCounts` is what the QEMU plugin counted over one interval, per class
(`tinykit.emulate.isa.CLASSES`): executions, registers moved, branches taken and how
often each of the core's two timing relations held. `estimate_cycles` applies a core's
timing table (`tinykit.emulate.cycles.TIMINGS`):

    cycles = n * base + registers * per_register + taken * taken_extra
             + relation0_hits * relation0 + relation1_hits * relation1

for the typical figure and for both ends of the range. `CycleEstimate` is what a
benchmark reports; it always carries the label "estimate" and its sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinykit.emulate.cycles import ONE_CYCLE, ClassTiming, CoreTiming
from tinykit.emulate.isa import CLASS_DESCRIPTIONS, CLASSES

#: What every figure here is: a label that travels with the numbers.
LABEL = "estimate"
KINDS = ("count", "regs", "taken", "relation0", "relation1")


@dataclass(frozen=True)
class ClassCounts:
    """Executed instructions of one interval, per class: counts of each kind (`KINDS`)."""

    count: tuple[int, ...]
    regs: tuple[int, ...]
    taken: tuple[int, ...]
    relation0: tuple[int, ...]
    relation1: tuple[int, ...]
    #: Instructions the table did not describe, and excluded ones (interrupt handlers).
    untabled: int = 0
    excluded: int = 0

    @classmethod
    def of(cls, kinds: list[tuple[int, ...]], untabled: int = 0, excluded: int = 0
           ) -> ClassCounts:
        """From one tuple per kind, in the order of `KINDS`."""
        count, regs, taken, relation0, relation1 = kinds
        return cls(count, regs, taken, relation0, relation1, untabled, excluded)

    def __sub__(self, other: ClassCounts) -> ClassCounts:
        def minus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(x - y for x, y in zip(a, b, strict=True))

        return ClassCounts.of([minus(getattr(self, k), getattr(other, k)) for k in KINDS],
                              self.untabled - other.untabled, self.excluded - other.excluded)

    @property
    def instructions(self) -> int:
        """Executed instructions, excluded ones not included."""
        return sum(self.count) + self.untabled


@dataclass(frozen=True)
class Cycles:
    typical: float
    low: float
    high: float


def class_cycles(timing: ClassTiming, counts: ClassCounts, index: int) -> Cycles:
    """Cycles of class `index` under `timing`: typical, low and high."""
    terms = ((counts.count[index], timing.base), (counts.regs[index], timing.per_register),
             (counts.taken[index], timing.taken), (counts.relation0[index], timing.relation0),
             (counts.relation1[index], timing.relation1))
    return Cycles(*(sum(n * getattr(f, end) for n, f in terms)
                    for end in ("typical", "low", "high")))


def estimate_cycles(core: CoreTiming, counts: ClassCounts) -> tuple[Cycles, list[str]]:
    """Total cycles of an interval, and the classes the core's table has no figure for
    (counted at one cycle each, as are instructions outside the table)."""
    typical = low = high = float(counts.untabled)
    untimed = []
    for index, name in enumerate(CLASSES):
        if not any(getattr(counts, kind)[index] for kind in KINDS):
            continue
        timing = core.timing(name)
        if timing is None:
            untimed.append(name)
            timing = ONE_CYCLE
        part = class_cycles(timing, counts, index)
        typical, low, high = typical + part.typical, low + part.low, high + part.high
    return Cycles(typical, low, high), untimed


@dataclass(frozen=True)
class ClassLine:
    """One row of the per-class breakdown of an inference."""

    cls: str
    instructions: int
    taken: int
    cycles: float
    cite: str


@dataclass(frozen=True)
class CycleEstimate:
    """Estimated cycles of one inference, per class and per layer; always an estimate."""

    core: str
    source: str
    assumptions: tuple[str, ...]
    cycles: int
    low: int
    high: int
    #: Instructions the plugin counted for the same inference, and whether its counts of
    #: every interval equal the exact SysTick counts (they should: same intervals).
    instructions: int
    matches_instruction_count: bool
    per_class: tuple[ClassLine, ...] = ()
    #: Typical cycles of each layer, hook included (as the per-layer instruction counts),
    #: and each layer's executed instructions by class.
    per_layer: tuple[int, ...] = ()
    per_layer_classes: tuple[dict[str, int], ...] = ()
    relations: tuple[str, ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        return LABEL

    def to_json(self) -> dict[str, Any]:
        return {
            "label": LABEL, "core": self.core, "source": self.source,
            "assumptions": list(self.assumptions), "cycles": self.cycles,
            "low": self.low, "high": self.high,
            "instructions_counted": self.instructions,
            "matches_instruction_count": self.matches_instruction_count,
            "relations": list(self.relations), "note": self.note or None,
            "per_class": [
                {"class": line.cls, "description": CLASS_DESCRIPTIONS[line.cls],
                 "instructions": line.instructions, "taken": line.taken,
                 "estimated_cycles": round(line.cycles), "timing": line.cite}
                for line in self.per_class
            ],
            "per_layer_classes": [dict(classes) for classes in self.per_layer_classes],
        }


def build_estimate(core: CoreTiming, counts: ClassCounts,
                   layers: list[ClassCounts] | None = None) -> CycleEstimate:
    """The `CycleEstimate` of one inference from its class counts (and its layers').

    `matches_instruction_count` starts False: only a comparison with SysTick sets it.
    """
    total, untimed = estimate_cycles(core, counts)
    lines = []
    for index, name in enumerate(CLASSES):
        if counts.count[index]:
            timing = core.timing(name) or ONE_CYCLE
            lines.append(ClassLine(name, counts.count[index], counts.taken[index],
                                   class_cycles(timing, counts, index).typical, timing.cite))
    lines.sort(key=lambda line: -line.cycles)
    per_layer = tuple(round(estimate_cycles(core, layer)[0].typical) for layer in layers or [])
    per_layer_classes = tuple({name: layer.count[i] for i, name in enumerate(CLASSES)
                               if layer.count[i]} for layer in layers or [])
    notes = []
    if untimed:
        notes.append(f"no {core.core} figure for {', '.join(untimed)} (counted as 1 cycle)")
    if counts.untabled:
        notes.append(f"{counts.untabled} instructions outside the disassembly (1 cycle each)")
    relations = tuple(f"{r.name}: {r.description}" for r in (core.relation0, core.relation1)
                      if r is not None)
    return CycleEstimate(
        core=core.core, source=core.source, assumptions=core.assumptions,
        cycles=round(total.typical), low=round(total.low), high=round(total.high),
        instructions=counts.instructions, matches_instruction_count=False,
        per_class=tuple(lines), per_layer=per_layer, per_layer_classes=per_layer_classes,
        relations=relations,
        note="; ".join(notes))
