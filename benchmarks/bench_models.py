"""MLPerf Tiny and TFLM's example models in QEMU, beside TensorFlow Lite Micro's figures.

Runs `tinykit bench` (the library call behind it) on cortex-m4 for the MLPerf Tiny KWS,
VWW, IC and AD models and TFLM's person_detect and micro_speech (../shared/models), and
prints per model: MACs, executed instructions per inference, MACs per instruction, the
estimated cycles (from the executed instruction classes and the Cortex-M4 TRM's timings:
an estimate, zero wait states), arena bytes, the runtime's flash (everything but the
model's constants) and the whole firmware's flash, beside TFLM's figures from the issue
and against the issue's goals. Then the same models on cortex-m7, cortex-m33,
cortex-m55 and cortex-m0plus. A model over a core target's budget runs on a board of
the same core with more memory (cortex-m0plus: rpi-pico), and says so.

    .venv/bin/python benchmarks/bench_models.py                  # every core (a few min)
    .venv/bin/python benchmarks/bench_models.py --cores cortex-m4
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tinykit.emulate.bench import BenchOptions, bench_model
from tinykit.emulate.results import BenchResult
from tinykit.errors import BudgetError, TinykitError, UnsupportedError
from tinykit.paths import shared_models_dir


@dataclass(frozen=True)
class Tflm:
    """One row of TFLM's figures: MACs, instructions for one Invoke, MAC/instruction,
    arena, runtime flash and total flash (bytes)."""

    macs: int
    instructions: int
    macs_per_instruction: float
    arena: int
    runtime_flash: int
    total_flash: int


#: TensorFlow Lite Micro measured on the same emulator, as given in the issue "Fast and
#: small on the chip" (QEMU 7.2 mps2-an386, gcc 12.2, release build, CMSIS-NN kernels,
#: only the model's int8 ops registered; executed instructions for one Invoke).
TFLM: dict[str, tuple[str, Tflm]] = {
    "mlperf_kws_dscnn_int8": ("MLPerf KWS DS-CNN",
                              Tflm(2_656_768, 7_697_235, 0.345, 22_820, 53_456, 107_760)),
    "mlperf_vww_mobilenetv1_int8": ("MLPerf VWW MobileNetV1",
                                    Tflm(7_489_664, 24_101_521, 0.311, 100_708, 53_456,
                                         387_112)),
    "mlperf_ic_resnet8_int8": ("MLPerf IC ResNet-8",
                               Tflm(12_501_632, 29_863_414, 0.419, 54_996, 51_260, 150_140)),
    "mlperf_ad_fc_autoencoder_int8": ("MLPerf AD autoencoder",
                                      Tflm(264_192, 582_903, 0.453, 2_580, 28_056, 305_416)),
    "tflm_person_detect_int8": ("person_detect",
                                Tflm(7_157_888, 22_928_028, 0.312, 82_308, 43_712, 344_664)),
    "tflm_micro_speech_int8": ("micro_speech",
                               Tflm(336_000, 1_495_328, 0.225, 6_836, 44_260, 63_444)),
}
#: The issue's goals on cortex-m4: MACs per instruction (0.8 for these, 0.6 for the
#: others), arena at most 0.7 x TFLM's, KWS runtime flash under 8 KiB and total flash at
#: most half of TFLM's.
HIGH_MAC_GOAL = {"mlperf_kws_dscnn_int8", "mlperf_vww_mobilenetv1_int8",
                 "mlperf_ic_resnet8_int8"}
CORES = ["cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "cortex-m0plus"]
#: A board of the same core with more memory, for models over the core target's budget.
LARGER = {"cortex-m4": "nucleo-l4r5zi", "cortex-m0plus": "rpi-pico"}


@dataclass(frozen=True)
class Row:
    """One model on one target: the result, or why there is none."""

    stem: str
    target: str
    result: BenchResult | None
    macs: int
    arena: int
    seconds: float
    problem: str = ""


def model_macs(path: Path) -> int:
    from tinykit.tflite.analysis import analyze_subgraph
    from tinykit.tflite.reader import read_model

    return analyze_subgraph(read_model(path).main).macs_total


def arena_bytes(work: Path) -> int:
    """The arena of the generated C the firmware ran (MODEL_ARENA_BYTES in model.h)."""
    header = (work / "c" / "model.h").read_text()
    match = re.search(r"#define MODEL_ARENA_BYTES (\d+)", header)
    return int(match.group(1)) if match else 0


def run(path: Path, core: str, work: Path, samples: int) -> Row:
    """Benchmark one model on `core`, or on LARGER[core] when over the core's budget."""
    start = time.monotonic()
    macs = model_macs(path)
    target = core
    for attempt in (core, LARGER.get(core)):
        if attempt is None:
            break
        target = attempt
        try:
            result = bench_model(BenchOptions(model=path, target=target, samples=samples,
                                              work_dir=work))
            return Row(path.stem, target, result, macs, arena_bytes(work),
                       time.monotonic() - start)
        except BudgetError as exc:
            problem = f"over {target}'s budget: {exc.message}"
            continue
        except UnsupportedError as exc:
            problem = f"codegen does not support it: {exc.message}"
        except TinykitError as exc:
            problem = f"failed: {exc.message}"
        break
    return Row(path.stem, target, None, macs, 0, time.monotonic() - start, problem)


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "-"


def print_m4(rows: list[Row]) -> None:
    print("On cortex-m4 (QEMU mps2-an386), beside TensorFlow Lite Micro with CMSIS-NN:")
    header = (f"{'model':<24}{'MACs':>11}{'instructions':>13}{'MAC/insn':>9}"
              f"{'est. cycles':>12}{'arena B':>9}{'runtime B':>10}{'flash B':>9}"
              f"{'| TFLM insns':>13}{'MAC/insn':>9}{'arena B':>9}{'runtime B':>10}"
              f"{'flash B':>9}")
    print(header)
    print("-" * len(header))
    for row in rows:
        name, tflm = TFLM[row.stem]
        theirs = (f"| {tflm.instructions:>11,}{tflm.macs_per_instruction:>9.3f}"
                  f"{tflm.arena:>9,}{tflm.runtime_flash:>10,}{tflm.total_flash:>9,}")
        result = row.result
        if result is None or result.sizes is None or result.count_per_inference is None:
            print(f"{name:<24}{row.macs:>11,}  {row.problem[:70]:<70}{theirs}")
            continue
        count = result.count_per_inference
        estimate = result.cycle_estimate
        cycles = f"{estimate.cycles:,}" if estimate else "-"
        board = "" if row.target == "cortex-m4" else f" [{row.target}]"
        print(f"{name + board:<24}{row.macs:>11,}{count:>13,}{row.macs / count:>9.3f}"
              f"{cycles:>12}{row.arena:>9,}{result.sizes.runtime_flash_bytes:>10,}"
              f"{result.sizes.flash_bytes:>9,}  {theirs}")
    print("(est. cycles: an ESTIMATE from the executed instruction classes and the Cortex-M4 "
          "TRM's instruction timings (DDI 0439B), zero wait states; TFLM's figures: the "
          "issue's table)")


def print_goals(rows: list[Row]) -> None:
    print("\nThe issue's goals on cortex-m4:")
    for row in rows:
        name, tflm = TFLM[row.stem]
        result = row.result
        if result is None or result.sizes is None or not result.count_per_inference:
            print(f"  {name}: not run ({row.problem})")
            continue
        goal = 0.8 if row.stem in HIGH_MAC_GOAL else 0.6
        mpi = row.macs / result.count_per_inference
        checks = [(f"MAC/insn {mpi:.3f} >= {goal}", mpi >= goal),
                  (f"arena {_ratio(row.arena, tflm.arena)} TFLM's <= 0.7x",
                   row.arena <= 0.7 * tflm.arena)]
        if row.stem == "mlperf_kws_dscnn_int8":
            runtime, total = result.sizes.runtime_flash_bytes, result.sizes.flash_bytes
            checks += [(f"runtime flash {runtime:,} B < 8 KiB", runtime < 8192),
                       (f"total flash {_ratio(total, tflm.total_flash)} TFLM's <= 0.5x",
                        total <= 0.5 * tflm.total_flash)]
        verdicts = "; ".join(f"{text} {'PASS' if ok else 'FAIL'}" for text, ok in checks)
        print(f"  {name}: {verdicts}; instructions "
              f"{_ratio(result.count_per_inference, tflm.instructions)} TFLM's")
        if result.outputs_match is not True:
            print(f"    outputs do NOT match the host: {result.summary().splitlines()[1]}")


def print_cores(rows: list[Row]) -> None:
    print("\nOther cores (QEMU; est. cycles from each core's timing model, an ESTIMATE):")
    header = (f"{'model':<24}{'target':<15}{'match':>6}{'instructions':>13}{'MAC/insn':>9}"
              f"{'est. cycles':>12}{'(range)':>25}{'cyc/MAC':>8}{'arena B':>9}"
              f"{'runtime B':>10}{'flash B':>9}{'wall s':>7}")
    print(header)
    print("-" * len(header))
    for row in rows:
        name = TFLM[row.stem][0]
        result = row.result
        if result is None or result.sizes is None or not result.count_per_inference:
            print(f"{name:<24}{row.target:<15}  {row.problem[:110]}")
            continue
        count, estimate = result.count_per_inference, result.cycle_estimate
        cycles = f"{estimate.cycles:,}" if estimate else "-"
        spread = f"{estimate.low:,}-{estimate.high:,}" if estimate else ""
        per_mac = f"{estimate.cycles / row.macs:.2f}" if estimate and row.macs else "-"
        print(f"{name:<24}{row.target:<15}{str(result.outputs_match):>6}{count:>13,}"
              f"{row.macs / count:>9.3f}{cycles:>12}{spread:>25}{per_mac:>8}"
              f"{row.arena:>9,}{result.sizes.runtime_flash_bytes:>10,}"
              f"{result.sizes.flash_bytes:>9,}{row.seconds:>7.1f}")
    sources = {row.result.cycle_estimate.core: row.result.cycle_estimate.source
               for row in rows if row.result and row.result.cycle_estimate}
    for core, source in sources.items():
        print(f"  {core}: {source}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default=",".join(CORES),
                        help=f"comma-separated cores (default: {','.join(CORES)})")
    parser.add_argument("--samples", type=int, default=1,
                        help="random inputs per model (each compared with the host)")
    args = parser.parse_args()
    cores = [core.strip() for core in args.cores.split(",") if core.strip()]
    folder = shared_models_dir()
    paths = [folder / f"{stem}.tflite" for stem in TFLM]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        print(f"absent from {folder}: {', '.join(missing)} (set TINYKIT_MODELS_DIR)")
        return 1
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinykit-bench-models-") as tmp:
        rows: dict[str, list[Row]] = {}
        for core in cores:
            for path in paths:
                print(f"  {path.stem} on {core} ...", file=sys.stderr, flush=True)
                row = run(path, core, Path(tmp) / f"{path.stem}-{core}", args.samples)
                rows.setdefault(core, []).append(row)
    if "cortex-m4" in rows:
        print_m4(rows["cortex-m4"])
        print_goals(rows["cortex-m4"])
    others = [row for core in cores if core != "cortex-m4" for row in rows[core]]
    if others:
        print_cores(others)
    runs = sum(len(r) for r in rows.values())
    print(f"\n{runs} benchmarks on {len(cores)} core(s) in {time.monotonic() - start:.0f} s "
          f"(build, host reference and QEMU, {args.samples} sample(s) each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
