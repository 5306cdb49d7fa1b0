"""Time of `tinykit analyze` per model in ../shared/models (goal: under 1 s for the largest).

Prints, per model, the best of several in-process runs of the whole command's work (read,
analyze, plan, render text and JSON) and one cold run of the CLI in a fresh process
(interpreter start-up and imports included).

    .venv/bin/python benchmarks/bench_analyze.py [--repeat N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from tinykit.paths import shared_models_dir
from tinykit.tflite.analyze import AnalyzeOptions, analyze
from tinykit.tflite.render import json_text, text


def work(path: Path) -> None:
    result = analyze(AnalyzeOptions(model=path, target="cortex-m4"))
    text(result, show_plan=True)
    json_text(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    models = sorted(shared_models_dir().glob("*.tflite"), key=lambda p: p.stat().st_size)
    if not models:
        print(f"no models in {shared_models_dir()}")
        return 1
    print(f"{'model':<42}{'bytes':>10}{'in-process s':>14}{'CLI cold s':>12}")
    worst = 0.0
    for path in models:
        best = min(_timed(work, path) for _ in range(args.repeat))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tinykit.cli", "analyze", str(path), "--json",
                        "--target", "cortex-m4"], capture_output=True, check=False)
        cold = time.perf_counter() - start
        worst = max(worst, best)
        print(f"{path.stem:<42}{path.stat().st_size:>10,}{best:>14.4f}{cold:>12.3f}")
    print(f"slowest in-process analyze: {worst:.4f} s (goal < 1 s)")
    return 0


def _timed(function, path: Path) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    function(path)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
