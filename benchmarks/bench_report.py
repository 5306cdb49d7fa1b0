"""How long rendering a build's report takes (goal: under 5 s for the default build).

    .venv/bin/python benchmarks/bench_report.py [BUILD_DIR] [--runs N]

BUILD_DIR defaults to build/cortex-m4 (`make build`). Each run is what `tinykit report`
does in a fresh process: import, read and validate report.json, render report.md, make
the plots, render report.html and write both. Prints the seconds of each part (the
median over the runs), the total, and the page's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

GOAL_SECONDS = 5.0

_RUN = """
import json, sys, time
start = time.perf_counter()
from tinykit.report import render_build
imported = time.perf_counter() - start
result = render_build(sys.argv[1])
seconds = {"import": imported, **result.seconds}
seconds["total"] = time.perf_counter() - start
print(json.dumps(seconds))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default="build/cortex-m4", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (args.build_dir / "report.json").is_file():
        print(f"{args.build_dir}/report.json not found: run `make build` first",
              file=sys.stderr)
        return 2
    runs = []
    for _ in range(args.runs):
        proc = subprocess.run([sys.executable, "-c", _RUN, str(args.build_dir)],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(proc.stdout))
    print(f"report of {args.build_dir}, median of {args.runs} runs in fresh processes")
    for part in runs[0]:
        print(f"  {part:<9} {statistics.median(r[part] for r in runs):6.2f} s")
    total = statistics.median(r["total"] for r in runs)
    page = args.build_dir / "report.html"
    print(f"  report.html {page.stat().st_size / 1024:.0f} KiB, "
          f"report.md {(args.build_dir / 'report.md').stat().st_size / 1024:.1f} KiB")
    print(f"total {total:.2f} s (goal: under {GOAL_SECONDS:g} s): "
          f"{'met' if total < GOAL_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
