"""What a benchmark found: `BenchResult`, its JSON form and its summary for people.

Counts are instructions (QEMU) or cycles (a board); `count_unit` says which. Any
milliseconds figure is an estimate that names its clock and its cycles-per-instruction
assumption, except the time a board measured at the clock it ran at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tinykit.emulate.estimate import CycleEstimate
from tinykit.emulate.isa import CLASS_DESCRIPTIONS
from tinykit.firmware.build import FirmwareSizes
from tinykit.ui import format_table, human_bytes

#: QEMU counts instructions, not cycles; estimates assume one cycle each (no wait states).
ASSUMED_CYCLES_PER_INSTRUCTION = 1.0


@dataclass(frozen=True)
class LayerCount:
    """Instructions (or cycles) between the hook before op `index` and the next stamp."""

    index: int
    type: str
    count: int
    #: The C kernel that ran and its version, e.g. "tk_conv2d_im2col_s8 (dsp)".
    kernel: str = ""


@dataclass(frozen=True)
class OutputMismatch:
    """Where a device output first differs from the host's."""

    sample: int
    output: int
    first_byte: int
    differing_bytes: int
    device: int
    host: int


@dataclass(frozen=True)
class BenchResult:
    """The outcome of `tinykit bench` (or of the benchmark step of `tinykit build`)."""

    target: str
    model: str
    model_sha256: str = ""
    ran: bool = False
    #: Why nothing ran, or a remark about the comparison (e.g. no host reference).
    note: str = ""
    runner: str = ""
    machine: str = ""
    port: str = ""
    count_unit: str = ""
    samples: int = 0
    outputs_match: bool | None = None
    reference: str = ""
    mismatches: tuple[OutputMismatch, ...] = ()
    #: Count of each sample's inference (hook off, counter overhead taken out).
    counts: tuple[int, ...] = ()
    per_layer: tuple[LayerCount, ...] = ()
    #: Per-layer total minus the plain total: what the layer hook itself cost.
    hook_overhead: int = 0
    sizes: FirmwareSizes | None = None
    flash_budget: int = 0
    ram_budget: int = 0
    clock_hz: int = 0
    #: Rate of the device's counter (a board: the core clock it actually ran at).
    counter_hz: int = 0
    firmware_elf: str = ""
    project_dir: str = ""
    seconds: Mapping[str, float] = field(default_factory=dict)
    #: Cycles estimated from executed instruction classes and the core's published
    #: timings (QEMU only; tinykit.emulate.cycles), and why there is none when wanted.
    cycle_estimate: CycleEstimate | None = None
    cycle_estimate_note: str = ""

    @property
    def count_per_inference(self) -> int | None:
        """The largest count over the samples (the worst case is what a deadline needs)."""
        return max(self.counts) if self.counts else None

    @property
    def instructions_per_inference(self) -> int | None:
        return self.count_per_inference if self.count_unit == "instructions" else None

    @property
    def cycles_per_inference(self) -> int | None:
        return self.count_per_inference if self.count_unit == "cycles" else None

    @property
    def fits(self) -> bool | None:
        if self.sizes is None:
            return None
        return self.sizes.flash_bytes <= self.flash_budget and \
            self.sizes.ram_bytes <= self.ram_budget

    def estimate(self) -> dict[str, Any] | None:
        """Milliseconds per inference at the target's [clock] hz, labelled as an estimate."""
        count = self.count_per_inference
        if count is None or not self.clock_hz:
            return None
        mhz = self.clock_hz / 1e6
        if self.count_unit == "instructions" and self.cycle_estimate is not None:
            cpi = round(self.cycle_estimate.cycles / count, 3) if count else None
            note = (f"estimate at {mhz:g} MHz ([clock] hz of {self.target}) of the "
                    f"estimated cycles ({self.cycle_estimate.core} timings, zero wait states)")
            return {"ms": round(self.cycle_estimate.cycles / self.clock_hz * 1e3, 4),
                    "clock_hz": self.clock_hz, "cycles_per_instruction": cpi, "note": note}
        if self.count_unit == "instructions":
            cpi = ASSUMED_CYCLES_PER_INSTRUCTION
            note = (f"estimate at {mhz:g} MHz ([clock] hz of {self.target}), assuming "
                    f"{cpi:g} cycle per instruction; QEMU counts instructions, not cycles, "
                    "and models no wait states or multi-cycle loads")
        else:
            cpi = None
            note = (f"estimate at {mhz:g} MHz ([clock] hz of {self.target}), assuming the "
                    f"cycle count measured at {self.counter_hz / 1e6:g} MHz (flash wait "
                    "states grow with the clock)")
        cycles = count * (cpi or 1.0)
        return {"ms": round(cycles / self.clock_hz * 1e3, 4), "clock_hz": self.clock_hz,
                "cycles_per_instruction": cpi, "note": note}

    def measured_ms(self) -> float | None:
        """Time a board measured, at the clock it ran at (cycles only)."""
        count = self.count_per_inference
        if self.count_unit != "cycles" or count is None or not self.counter_hz:
            return None
        return round(count / self.counter_hz * 1e3, 4)

    def _layer_estimate(self, index: int) -> int | None:
        per_layer = self.cycle_estimate.per_layer if self.cycle_estimate else ()
        return per_layer[index] if index < len(per_layer) else None

    def to_json(self) -> dict[str, Any]:
        unit, cycles = self.count_unit, self.cycle_estimate
        sizes = self.sizes.to_json() if self.sizes else None
        return {
            "target": self.target, "model": self.model, "model_sha256": self.model_sha256,
            "ran": self.ran, "note": self.note,
            "runner": {"kind": self.runner, "machine": self.machine or None,
                       "port": self.port or None},
            "outputs_match": self.outputs_match, "samples": self.samples,
            "reference": self.reference,
            "mismatches": [vars(m) for m in self.mismatches],
            "count_unit": unit or None,
            "instructions_per_inference": self.instructions_per_inference,
            "cycles_per_inference": self.cycles_per_inference,
            "counts_per_sample": list(self.counts),
            "per_layer": [
                {"index": layer.index, "type": layer.type, "kernel": layer.kernel or None,
                 "instructions": layer.count if unit == "instructions" else None,
                 "cycles": layer.count if unit == "cycles" else None,
                 **({"estimated_cycles": self._layer_estimate(layer.index)} if cycles else {})}
                for layer in self.per_layer
            ],
            "estimated_cycles": cycles.cycles if cycles else None,
            "cycle_estimate": cycles.to_json() if cycles else (
                {"label": "estimate", "note": self.cycle_estimate_note}
                if self.cycle_estimate_note else None),
            "per_layer_hook_overhead": self.hook_overhead if self.per_layer else None,
            "flash_bytes": sizes["flash_bytes"] if sizes else None,
            "ram_bytes": sizes["ram_bytes"] if sizes else None,
            "runtime_flash_bytes": sizes["runtime_flash_bytes"] if sizes else None,
            "model_constant_bytes": sizes["model_constants"] if sizes else None,
            "sections": sizes,
            "flash_budget_bytes": self.flash_budget, "ram_budget_bytes": self.ram_budget,
            "fits": self.fits,
            "estimate": self.estimate(), "measured_ms": self.measured_ms(),
            "firmware": {"elf": self.firmware_elf or None,
                         "project": self.project_dir or None},
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def summary(self) -> str:
        """Several lines for people, then the per-layer table."""
        if not self.ran:
            return f"{self.model} on {self.target}: not run: {self.note}"
        lines = [f"{self.model} on {self.target} ({self.runner_text()})"]
        lines.append(f"  outputs       {self._outputs_text()}")
        count = self.count_per_inference
        if count is not None:
            spread = "" if len(self.counts) == 1 else (
                f" (the most of {len(self.counts)} samples; the least {min(self.counts):,})")
            lines.append(f"  {self.count_unit:<13} {count:,} per inference{spread}")
        lines += self._cycle_lines()
        if self.sizes is not None:
            lines += self._size_lines(self.sizes)
        estimate = self.estimate()
        if estimate is not None:
            lines.append(f"  time          ~{estimate['ms']:.3f} ms ({estimate['note']})")
        measured = self.measured_ms()
        if measured is not None:
            lines.append(f"  measured      {measured:.3f} ms at {self.counter_hz / 1e6:g} MHz")
        if self.note:
            lines.append(f"  note          {self.note}")
        if self.per_layer:
            lines += ["", self._layer_table()]
        if self.cycle_estimate is not None:
            lines += ["", self._class_table(self.cycle_estimate)]
        return "\n".join(lines)

    def _cycle_lines(self) -> list[str]:
        estimate = self.cycle_estimate
        if estimate is None:
            return [f"  cycles        {self.cycle_estimate_note}"] \
                if self.cycle_estimate_note else []
        lines = [f"  est. cycles   ~{estimate.cycles:,} per inference, an ESTIMATE (range "
                 f"{estimate.low:,} to {estimate.high:,})",
                 f"                from the executed instruction classes and {estimate.source}; "
                 f"{estimate.assumptions[0]}"]
        if estimate.note:
            lines.append(f"                ({estimate.note})")
        return lines

    @staticmethod
    def _class_table(estimate: CycleEstimate) -> str:
        total = sum(line.cycles for line in estimate.per_class) or 1
        rows = [(line.cls, line.instructions, line.taken, round(line.cycles),
                 f"{100 * line.cycles / total:.1f}%", CLASS_DESCRIPTIONS[line.cls])
                for line in estimate.per_class]
        table = format_table(("class", "instructions", "taken", "est. cycles", "share",
                              "what"), rows)
        return table + f"\n(cycles are an estimate for {estimate.core}; see the JSON for " \
                       "the timing source and assumptions)"

    def runner_text(self) -> str:
        if self.machine:
            return f"QEMU {self.machine}"
        return f"board on {self.port}" if self.port else self.runner

    def _outputs_text(self) -> str:
        if self.outputs_match is None:
            return f"not compared: {self.reference}"
        if self.outputs_match:
            return (f"equal to the host byte for byte on {self.samples} sample(s) "
                    f"({self.reference})")
        first = self.mismatches[0]
        return (f"DIFFER from the host on {len(self.mismatches)} output(s); first: sample "
                f"{first.sample}, output {first.output}, byte {first.first_byte}: device "
                f"{first.device}, host {first.host} ({first.differing_bytes} bytes differ)")

    def _size_lines(self, sizes: FirmwareSizes) -> list[str]:
        verdict = "PASS" if self.fits else "FAIL"
        return [
            f"  flash         {sizes.flash_bytes:,} B of {human_bytes(self.flash_budget)} "
            f"(text {sizes.text:,} + rodata {sizes.rodata:,} + data {sizes.data:,})",
            f"  model consts  {sizes.model_constants:,} B; runtime (everything else) "
            f"{sizes.runtime_flash_bytes:,} B",
            f"  RAM           {sizes.ram_bytes:,} B of {human_bytes(self.ram_budget)} "
            f"(data {sizes.data:,} + bss {sizes.bss:,} + stack {sizes.stack:,})",
            f"  budget        {verdict}",
        ]

    def _layer_table(self) -> str:
        total = sum(layer.count for layer in self.per_layer) or 1
        estimated = self.cycle_estimate is not None and \
            len(self.cycle_estimate.per_layer) == len(self.per_layer)
        rows = [(layer.index, layer.type, layer.kernel or "-", layer.count,
                 f"{100 * layer.count / total:.1f}%",
                 *([self._layer_estimate(layer.index)] if estimated else []))
                for layer in self.per_layer]
        headers = ("#", "op", "kernel", self.count_unit, "share",
                   *(["est. cycles"] if estimated else []))
        table = format_table(headers, rows)
        return table + (f"\n(per-layer counts include the layer hook: "
                        f"{self.hook_overhead:,} {self.count_unit} in all)")
