"""Flash of the generated C for the MLPerf Tiny KWS model next to the .tflite's size.

Generates the C, compiles NAME.c and the shared kernels with arm-none-eabi-gcc -Os for
cortex-m4 (the flags of targets/cortex-m4.toml), and sums text + rodata (+ data, which
flash also holds) per object. Goal: smaller than the .tflite file.

    .venv/bin/python benchmarks/bench_codegen_flash.py [--model FILE] [--target NAME]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tinykit.codegen.generate import CodegenOptions, codegen
from tinykit.emulate.host import STRICT_CFLAGS
from tinykit.paths import shared_models_dir
from tinykit.targets import load_target


def section_sizes(obj: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True,
                         text=True, check=True).stdout
    sizes: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            kind = next((k for k in ("text", "rodata", "data", "bss")
                         if parts[0].startswith(f".{k}")), None)
            if kind:
                sizes[kind] = sizes.get(kind, 0) + int(parts[1])
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path,
                        default=shared_models_dir() / "mlperf_kws_dscnn_int8.tflite")
    parser.add_argument("--target", default="cortex-m4")
    args = parser.parse_args()
    if shutil.which("arm-none-eabi-gcc") is None or not args.model.is_file():
        print("needs arm-none-eabi-gcc and the model file")
        return 1
    flags = [*STRICT_CFLAGS, *load_target(args.target).cflags, "-Os"]
    with tempfile.TemporaryDirectory(prefix="tinykit-bench-flash-") as tmp:
        folder = Path(tmp)
        result = codegen(CodegenOptions(args.model, folder, "model"))
        total = 0
        print(f"{'object':<22}{'text':>8}{'rodata':>9}{'data':>7}{'flash':>9}{'bss':>8}")
        for source in ("model.c", "tinykit_kernels.c"):
            obj = folder / source.replace(".c", ".o")
            subprocess.run(["arm-none-eabi-gcc", *flags, "-I", str(folder), "-c",
                            str(folder / source), "-o", str(obj)], check=True)
            s = section_sizes(obj)
            flash = s.get("text", 0) + s.get("rodata", 0) + s.get("data", 0)
            total += flash
            print(f"{obj.name:<22}{s.get('text', 0):>8}{s.get('rodata', 0):>9}"
                  f"{s.get('data', 0):>7}{flash:>9}{s.get('bss', 0):>8}")
    size = args.model.stat().st_size
    print(f"generated code flash (text + rodata + data, -Os, {args.target}): {total} bytes")
    print(f".tflite file {args.model.name}: {size} bytes")
    print(f"ratio: {total / size:.3f} -> {'smaller' if total < size else 'NOT smaller'}; "
          f"arena (RAM) {result.sources.arena_bytes} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
