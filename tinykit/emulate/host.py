"""Compile generated C with the host compiler and run it: the "device twin" of a model.

The harness (`tinykit_host_main.c`, written next to the build) uses only the public API
of the generated header, so running it also exercises the contract firmware codes
against. It reads every sample's inputs from one file, calls `NAME_invoke` per sample
and writes every output to another file; with a hook log it also records the op
indices the hook saw. One process runs all samples.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykit.errors import ToolchainError

#: Strict flags the generated code must pass on every compiler (-Werror included).
STRICT_CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
HOST_COMPILERS = ("cc", "gcc", "clang")

_HARNESS = r"""/* tinykit host harness: runs NAME on samples read from a file. */
#include <stdio.h>
#include <stdlib.h>
#include "NAME.h"

static FILE *hook_log;

static void log_hook(int op_index)
{
    fprintf(hook_log, "%d\n", op_index);
}

int main(int argc, char **argv)
{
    FILE *in, *out;
    long samples, s;
    int i;
    if (argc < 4) {
        fprintf(stderr, "usage: %s INPUTS OUTPUTS SAMPLES [HOOK_LOG]\n", argv[0]);
        return 2;
    }
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    samples = strtol(argv[3], NULL, 10);
    if (in == NULL || out == NULL) {
        fprintf(stderr, "cannot open the sample files\n");
        return 2;
    }
    if (argc > 4) {
        hook_log = fopen(argv[4], "w");
        if (hook_log == NULL) {
            return 2;
        }
        NAME_set_op_hook(log_hook);
    }
    if (NAME_init() != 0) {
        fprintf(stderr, "NAME_init failed\n");
        return 3;
    }
    for (s = 0; s < samples; ++s) {
        for (i = 0; i < UPPER_NUM_INPUTS; ++i) {
            if (fread(NAME_input(i), 1, NAME_input_bytes(i), in) != NAME_input_bytes(i)) {
                fprintf(stderr, "short input file\n");
                return 2;
            }
        }
        if (NAME_invoke() != 0) {
            fprintf(stderr, "NAME_invoke failed\n");
            return 3;
        }
        for (i = 0; i < UPPER_NUM_OUTPUTS; ++i) {
            fwrite(NAME_output(i), 1, NAME_output_bytes(i), out);
        }
    }
    if (hook_log != NULL) {
        fclose(hook_log);
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 2;
}
"""


def find_host_compiler(preferred: str | None = None) -> str:
    """The C compiler to use: `preferred`, else $CC, else cc, gcc or clang on PATH."""
    candidates = [preferred] if preferred else [os.environ.get("CC", ""), *HOST_COMPILERS]
    for candidate in candidates:
        if candidate and shutil.which(candidate):
            return candidate
    wanted = preferred or "a C compiler (cc, gcc or clang)"
    raise ToolchainError(f"{wanted} was not found on PATH",
                         hint="install one (Debian: apt-get install gcc) or pass --cc")


def harness_source(name: str) -> str:
    """The harness C for a model generated with `--name name`."""
    return _HARNESS.replace("UPPER", name.upper()).replace("NAME", name)


def _run_compiler(command: list[str], compiler: str) -> None:
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise ToolchainError(f"{compiler} could not build the generated C:\n{tail}",
                             hint="this is a tinykit bug if the C came from `tinykit "
                                  "codegen`; please report it with the model")


def _kernel_objects(source_dir: Path, compiler: str, flags: Sequence[str]) -> list[Path]:
    """The shared kernels compiled once per compiler, flags and kernel source.

    The kernels are the same bytes for every model, so their object files are cached in
    the temp dir (keyed by a hash of all that went into them) and reused by every build.
    """
    from tinykit.codegen.generate import KERNEL_FILES

    path = shutil.which(compiler) or compiler
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    key = hashlib.sha256("\0".join([os.path.realpath(path), version, *flags]).encode())
    for name in KERNEL_FILES:
        key.update((source_dir / name).read_bytes())
    folder = Path(tempfile.gettempdir()) / "tinykit-host-kernels"
    objects = []
    for name in (n for n in KERNEL_FILES if n.endswith(".c")):
        target = folder / f"{Path(name).stem}-{key.hexdigest()[:20]}.o"
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".{target.name}.{os.getpid()}.tmp"
            _run_compiler([compiler, *flags, "-I", str(source_dir), "-c",
                           str(source_dir / name), "-o", str(partial)], compiler)
            os.replace(partial, target)  # atomic: a cached object is always complete
        objects.append(target)
    return objects


def compile_host(source_dir: Path, name: str, exe: Path, *, cc: str | None = None,
                 optimize: str = "-O2", extra_sources: Sequence[Path] = ()) -> Path:
    """Build the generated folder and the harness into `exe` with strict warnings."""
    compiler = find_host_compiler(cc)
    flags = [*STRICT_CFLAGS, optimize]
    kernels = _kernel_objects(source_dir, compiler, flags)
    harness = exe.with_name("tinykit_host_main.c")
    harness.write_text(harness_source(name), encoding="utf-8")
    sources = [harness, source_dir / f"{name}.c", *extra_sources]
    _run_compiler([compiler, *flags, "-I", str(source_dir), *map(str, sources),
                   *map(str, kernels), "-o", str(exe), "-lm"], compiler)
    return exe


@dataclass(frozen=True)
class TensorSpec:
    """Shape and dtype of one model input or output, to (de)serialize samples."""

    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def run_host(exe: Path, samples: Sequence[Sequence[np.ndarray]], inputs: Sequence[TensorSpec],
             outputs: Sequence[TensorSpec], *, hook_log: Path | None = None,
             timeout: float = 600.0) -> list[list[np.ndarray]]:
    """Run every sample through the compiled model; returns the outputs of each sample."""
    with tempfile.TemporaryDirectory(prefix="tinykit-host-") as tmp:
        in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        with open(in_path, "wb") as handle:
            for sample in samples:
                for array, spec in zip(sample, inputs, strict=True):
                    handle.write(np.ascontiguousarray(array, dtype=spec.dtype).tobytes())
        command = [str(exe), str(in_path), str(out_path), str(len(samples))]
        if hook_log is not None:
            command.append(str(hook_log))
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ToolchainError(f"the host build of the model ran longer than {timeout} s")\
                from exc
        if proc.returncode != 0:
            raise ToolchainError(f"the host build of the model failed (exit "
                                 f"{proc.returncode}): {proc.stderr.strip()[-500:]}")
        data = out_path.read_bytes()
    per_sample = sum(spec.nbytes for spec in outputs)
    if len(data) != per_sample * len(samples):
        raise ToolchainError(f"the host build wrote {len(data)} bytes, expected "
                             f"{per_sample * len(samples)}")
    results, position = [], 0
    for _ in samples:
        row = []
        for spec in outputs:
            chunk = data[position:position + spec.nbytes]
            row.append(np.frombuffer(chunk, dtype=spec.dtype).reshape(spec.shape).copy())
            position += spec.nbytes
        results.append(row)
    return results
