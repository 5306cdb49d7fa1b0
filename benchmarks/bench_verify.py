"""Time of `tinykit verify` on the MLPerf Tiny KWS model (goal: under 10 s in total).

Runs the CLI in a fresh process, as a user would, and prints the wall time of the whole
command (interpreter start-up, code generation, host compile, running the samples and
tflite-runtime) next to the stage times it reports. The first run starts with an empty
cache of the shared kernels' object file (a fresh TMPDIR); the second reuses it.

    .venv/bin/python benchmarks/bench_verify.py [--samples N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from tinykit.paths import shared_models_dir

MODEL = "mlperf_kws_dscnn_int8.tflite"
GOAL_SECONDS = 10.0


def run(model: str, samples: int, tmpdir: str) -> tuple[float, str, int]:
    env = dict(os.environ, TMPDIR=tmpdir)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tinykit.cli", "verify", model,
                           "--samples", str(samples)], capture_output=True, text=True, env=env)
    return time.perf_counter() - start, proc.stdout, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    model = shared_models_dir() / MODEL
    if not model.is_file():
        print(f"{model} is absent")
        return 1
    with tempfile.TemporaryDirectory(prefix="tinykit-bench-verify-") as tmpdir:
        for label in ("cold kernel cache", "warm kernel cache"):
            seconds, out, code = run(str(model), args.samples, tmpdir)
            stages = re.search(r"(?:PASS|FAIL):.*\[(.*)\]", out)
            verdict = "PASS" if code == 0 else f"FAIL (exit {code})"
            print(f"tinykit verify {MODEL} --samples {args.samples} ({label}): "
                  f"{seconds:.2f} s wall, {verdict}")
            print(f"  stages: {stages.group(1) if stages else out.strip()[-300:]}")
            print(f"  goal: under {GOAL_SECONDS:.0f} s -> "
                  f"{'met' if seconds < GOAL_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
