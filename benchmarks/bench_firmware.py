"""Firmware benchmarks: KWS on cortex-m4 end to end, every core, and every supported model.

Prints, for the MLPerf KWS model on cortex-m4 (goals: the runtime's own flash under 8 KiB,
the whole `tinykit bench` under 60 s with the build): the wall time of a cold CLI run in a
fresh process, flash, RAM, the runtime's flash (everything but the model's constants) at
-O2 and -Os, and instructions per inference. Then KWS on every core, and with --models
every int8 model codegen supports (a model over cortex-m4's RAM budget runs on the
budget of the NUCLEO-L4R5ZI, an M4 board with 640 KiB).

    .venv/bin/python benchmarks/bench_firmware.py [--models]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinykit.emulate.bench import BenchOptions, bench_model
from tinykit.errors import BudgetError, UnsupportedError
from tinykit.paths import shared_models_dir

CORES = ["cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"]
KWS = "mlperf_kws_dscnn_int8.tflite"
RUNTIME_GOAL = 8 * 1024
WALL_GOAL_S = 60.0


def cold_cli_run(model: Path, work: Path) -> tuple[float, dict]:
    """`tinykit bench --json` in a fresh process, nothing built before: (seconds, JSON)."""
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tinykit.cli", "bench", str(model), "--target", "cortex-m4",
         "--json", "--qemu", "-o", str(work)], capture_output=True, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"tinykit bench failed:\n{proc.stderr}")
    return seconds, json.loads(proc.stdout)


def kws_on_m4(model: Path, tmp: Path) -> None:
    seconds, payload = cold_cli_run(model, tmp / "cold")
    print(f"KWS on cortex-m4, cold `tinykit bench` (build included): {seconds:.1f} s "
          f"(goal < {WALL_GOAL_S:.0f} s): {'PASS' if seconds < WALL_GOAL_S else 'FAIL'}")
    print(f"  stages (s): {payload['seconds']}")
    print(f"  outputs equal to tflite-runtime: {payload['outputs_match']}")
    print(f"  instructions per inference: {payload['instructions_per_inference']:,}")
    print(f"  flash {payload['flash_bytes']:,} B, RAM {payload['ram_bytes']:,} B, "
          f"model constants {payload['model_constant_bytes']:,} B")
    for opt in ("-O2", "-Os"):
        result = bench_model(BenchOptions(model=model, target="cortex-m4", samples=1,
                                          opt=opt, work_dir=tmp / f"opt{opt}"))
        assert result.sizes is not None
        runtime = result.sizes.runtime_flash_bytes
        verdict = "PASS" if runtime < RUNTIME_GOAL else "FAIL"
        print(f"  runtime's own flash at {opt}: {runtime:,} B (goal < {RUNTIME_GOAL:,} B, "
              f"TFLM's interpreter alone: 16-30 KB): {verdict}; "
              f"{result.count_per_inference:,} instructions per inference")


def kws_on_every_core(model: Path, tmp: Path) -> None:
    print("\nKWS on every core (QEMU, -O2):")
    print(f"{'target':<15}{'machine':<12}{'match':>6}{'instructions':>14}{'runtime B':>11}"
          f"{'flash B':>9}{'RAM B':>8}{'est. ms':>9}{'wall s':>8}")
    for core in CORES:
        start = time.monotonic()
        result = bench_model(BenchOptions(model=model, target=core, samples=2,
                                          work_dir=tmp / core))
        sizes, estimate = result.sizes, result.estimate()
        assert sizes is not None and estimate is not None
        print(f"{core:<15}{result.machine:<12}{str(result.outputs_match):>6}"
              f"{result.count_per_inference:>14,}{sizes.runtime_flash_bytes:>11,}"
              f"{sizes.flash_bytes:>9,}{sizes.ram_bytes:>8,}{estimate['ms']:>9.1f}"
              f"{time.monotonic() - start:>8.1f}")
    print("(est. ms: at the target's [clock] hz, assuming one cycle per instruction)")


def every_model(tmp: Path) -> None:
    print("\nEvery model of ../shared/models on cortex-m4 (QEMU):")
    for path in sorted(shared_models_dir().glob("*.tflite")):
        start = time.monotonic()
        target = "cortex-m4"
        try:
            try:
                result = bench_model(BenchOptions(model=path, target=target, samples=1,
                                                  work_dir=tmp / path.stem))
            except BudgetError as exc:
                print(f"  {path.stem}: over cortex-m4's budget ({exc.message}); "
                      "running on nucleo-l4r5zi's budget")
                target = "nucleo-l4r5zi"
                result = bench_model(BenchOptions(model=path, target=target, samples=1,
                                                  work_dir=tmp / path.stem))
        except UnsupportedError as exc:
            print(f"  {path.stem}: not supported by codegen: {exc.message}")
            continue
        assert result.sizes is not None
        print(f"  {path.stem} [{target}]: outputs match {result.outputs_match} "
              f"({result.reference.split(' (')[0]}); {result.count_per_inference:,} "
              f"instructions; runtime {result.sizes.runtime_flash_bytes:,} B, flash "
              f"{result.sizes.flash_bytes:,} B, RAM {result.sizes.ram_bytes:,} B; "
              f"{time.monotonic() - start:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", action="store_true",
                        help="also run every model of ../shared/models on cortex-m4")
    args = parser.parse_args()
    model = shared_models_dir() / KWS
    if not model.is_file():
        print(f"{model} is absent (set TINYKIT_MODELS_DIR)")
        return 1
    with tempfile.TemporaryDirectory(prefix="tinykit-bench-fw-") as folder:
        tmp = Path(folder)
        kws_on_m4(model, tmp)
        kws_on_every_core(model, tmp)
        if args.models:
            every_model(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
