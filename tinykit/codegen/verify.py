"""`tinykit verify`: the host "device twin" of a model, checked against tflite-runtime.

Generates the C, builds it with the host compiler (strict warnings), runs N seeded inputs
through it and through tflite-runtime with the reference op resolver (BUILTIN_REF), and
compares every output byte. Float outputs (DEQUANTIZE) are compared bit for bit.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinykit.codegen.csyntax import comment_text
from tinykit.codegen.generate import GeneratedSources, generate_sources, write_sources
from tinykit.emulate.host import TensorSpec, compile_host, find_host_compiler, run_host
from tinykit.errors import ConfigError, ModelError
from tinykit.tflite.model import Model, Subgraph, Tensor

Progress = Callable[[str], None]


@dataclass(frozen=True)
class VerifyOptions:
    """What `tinykit verify` was asked to do."""

    model: Path
    samples: int = 10
    seed: int = 0
    cc: str | None = None
    keep: Path | None = None  # keep the generated C and the host build here
    #: auto (packed weights where they save flash), dense or packed (tinykit.codegen.packing)
    weights: str = "auto"


@dataclass(frozen=True)
class OutputCheck:
    """How one model output compares over all samples."""

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    exact_fraction: float   # of all output elements over all samples
    max_abs_diff: float     # in int steps for integer outputs, in value for float ones
    mismatched_samples: int

    @property
    def ok(self) -> bool:
        return self.mismatched_samples == 0


@dataclass(frozen=True)
class VerifyResult:
    """The comparison, what it ran on, and how long each stage took (seconds)."""

    model: Path
    model_sha256: str
    samples: int
    compiler: str
    outputs: tuple[OutputCheck, ...]
    timings: dict[str, float]
    warnings: tuple[str, ...] = field(default=())
    #: on a mismatch: the first op (in execution order) whose output differs
    first_divergence: str | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.outputs)


def _quantize_consumer(graph: Subgraph, tensor: Tensor) -> tuple[float, int] | None:
    for op in graph.operators:
        if op.opcode == "QUANTIZE" and op.inputs and op.inputs[0] == tensor.index:
            quant = graph.tensors[op.outputs[0]].quantization
            if quant is not None and quant.scale:
                return float(quant.scale[0]), int(quant.zero_point[0])
    return None


def make_samples(model: Model, count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """Seeded inputs: for int8, an all-minimum and an all-maximum sample, then uniform ones.

    Float inputs are drawn over the range their QUANTIZE op represents, 5% wider on each
    side so that saturation is exercised too.
    """
    graph = model.main
    rng = np.random.default_rng(seed)
    samples = []
    for s in range(count):
        sample = []
        for index in graph.inputs:
            tensor = graph.tensors[index]
            shape = tensor.shape
            if tensor.dtype == "int8":
                if s < 2 and count > 2:
                    sample.append(np.full(shape, -128 if s == 0 else 127, dtype=np.int8))
                else:
                    sample.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
            elif tensor.dtype == "float32":
                quant = _quantize_consumer(graph, tensor)
                low, high = (-1.0, 1.0) if quant is None else (
                    quant[0] * (-128 - quant[1]), quant[0] * (127 - quant[1]))
                margin = 0.05 * (high - low)
                sample.append(rng.uniform(low - margin, high + margin, size=shape)
                              .astype(np.float32))
            else:
                info = np.iinfo(np.dtype(tensor.dtype))
                sample.append(rng.integers(max(info.min, -1000), min(info.max, 1000),
                                           size=shape).astype(tensor.dtype))
        samples.append(sample)
    return samples


def oracle_warnings(model: Model) -> list[str]:
    """Known defects of tflite-runtime 2.14's reference kernels that this model triggers."""
    graph, notes = model.main, []
    for op in graph.operators:
        if op.opcode != "FULLY_CONNECTED" or len(op.inputs) < 2:
            continue
        weights, output = graph.tensors[op.inputs[1]], graph.tensors[op.outputs[0]]
        per_channel = weights.quantization is not None and len(weights.quantization.scale) > 1
        if per_channel and len(output.shape) > 2:
            notes.append(
                f"op {op.index} (FULLY_CONNECTED) has per-channel weights and a "
                f"{len(output.shape)}-d output: tflite-runtime 2.14's reference kernel "
                "computes only the first output channel there, so that output cannot match")
    return notes


def compare(got: Sequence[Sequence[np.ndarray]], expected: Sequence[Sequence[np.ndarray]],
            outputs: Sequence[Tensor]) -> tuple[OutputCheck, ...]:
    """Per output: fraction of equal elements, largest difference, samples that differ."""
    checks = []
    for o, tensor in enumerate(outputs):
        equal = total = mismatched = 0
        worst = 0.0
        for g_sample, e_sample in zip(got, expected, strict=True):
            a, b = np.asarray(g_sample[o]), np.asarray(e_sample[o]).reshape(np.shape(g_sample[o]))
            if a.dtype.kind == "f":
                same = a.view(np.uint32) == b.astype(a.dtype).view(np.uint32)
            else:
                same = a == b
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            equal += int(same.sum())
            total += same.size
            mismatched += int(not same.all())
            finite = diff[np.isfinite(diff)]
            worst = max(worst, float(finite.max()) if finite.size else 0.0)
        checks.append(OutputCheck(o, tensor.name, tensor.dtype, tuple(tensor.shape),
                                  equal / total if total else 1.0, worst, mismatched))
    return tuple(checks)


def _timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    mark = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - mark


def _build(sources: GeneratedSources, folder: Path, cc: str | None) -> Path:
    write_sources(sources, folder)
    return compile_host(folder, sources.name, folder / "tinykit_host_model", cc=cc)


def verify(options: VerifyOptions, progress: Progress | None = None,
           samples: Sequence[Sequence[np.ndarray]] | None = None) -> VerifyResult:
    """Run the comparison; `samples` replaces the seeded inputs (tests use this)."""
    from tinykit.tflite import litert
    from tinykit.tflite.reader import read_model

    say = progress or (lambda _message: None)
    if samples is None and options.samples < 1:
        raise ConfigError(f"--samples {options.samples} must be at least 1")
    compiler = find_host_compiler(options.cc)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    model = read_model(options.model)
    sources = generate_sources(model, "model", options.weights)
    timings["generate"] = time.perf_counter() - start
    inputs = [TensorSpec(x.tensor.shape, x.tensor.dtype) for x in sources.inputs]
    outputs = [TensorSpec(x.tensor.shape, x.tensor.dtype) for x in sources.outputs]
    data = list(samples) if samples is not None else make_samples(model, options.samples,
                                                                  options.seed)
    # tflite-runtime runs in its own process: let it work while the C compiles and runs.
    with ThreadPoolExecutor(max_workers=1) as pool:
        oracle = pool.submit(_timed, litert.run_model, options.model, data, reference=True)
        with tempfile.TemporaryDirectory(prefix="tinykit-verify-") as tmp:
            folder = options.keep or Path(tmp)
            say(f"compiling the generated C with {compiler}")
            mark = time.perf_counter()
            exe = _build(sources, folder, compiler)
            timings["compile"] = time.perf_counter() - mark
            say(f"running {len(data)} samples through the C and through tflite-runtime")
            mark = time.perf_counter()
            got = run_host(exe, data, inputs, outputs)
            timings["run"] = time.perf_counter() - mark
        try:
            expected, timings["tflite-runtime"] = oracle.result()
        except ModelError as exc:
            raise ModelError(exc.message, hint="tflite-runtime cannot be the reference for "
                             "this model; `tinykit codegen` still generates it (TensorFlow "
                             "Lite Micro runs such models)") from exc
    timings["total"] = time.perf_counter() - start
    checks = compare(got, expected, [x.tensor for x in sources.outputs])
    divergence = None
    if not all(check.ok for check in checks):
        bad = next(s for s, (g, e) in enumerate(zip(got, expected, strict=True))
                   if any(not np.array_equal(np.asarray(a), np.asarray(b).reshape(a.shape))
                          for a, b in zip(g, e, strict=True)))
        say("looking for the first op whose output differs")
        divergence = locate_divergence(Path(options.model).read_bytes(), data[bad], compiler,
                                       options.weights)
    return VerifyResult(Path(options.model), model.sha256, len(data), compiler, checks,
                        timings, tuple(oracle_warnings(model)), divergence)


def _differs(a: np.ndarray, b: np.ndarray) -> int:
    """How many elements differ (floats bit for bit)."""
    b = np.asarray(b).reshape(a.shape)
    if a.dtype.kind == "f":
        return int((a.view(np.uint32) != b.astype(a.dtype).view(np.uint32)).sum())
    return int((a != b).sum())


def locate_divergence(model_bytes: bytes, sample: Sequence[np.ndarray],
                      compiler: str, weights: str = "auto") -> str:
    """Run one sample with every op output exposed; name the first op that differs."""
    from tinykit.codegen.expose import expose_intermediates
    from tinykit.errors import TinykitError
    from tinykit.tflite import litert
    from tinykit.tflite.reader import read_model

    try:
        exposed, tensors = expose_intermediates(model_bytes)
        model = read_model(exposed)
        sources = generate_sources(model, "model", weights)
        specs = [TensorSpec(x.tensor.shape, x.tensor.dtype) for x in sources.inputs]
        out_specs = [TensorSpec(x.tensor.shape, x.tensor.dtype) for x in sources.outputs]
        with tempfile.TemporaryDirectory(prefix="tinykit-locate-") as tmp:
            path = Path(tmp) / "exposed.tflite"
            path.write_bytes(exposed)
            exe = _build(sources, Path(tmp) / "c", compiler)
            got = run_host(exe, [sample], specs, out_specs)[0]
            expected = litert.run_model(path, [sample], reference=True)[0]
    except (TinykitError, ValueError) as exc:
        return f"could not locate the first differing op: {exc}"
    graph = model.main
    producer = {t: op for op in graph.operators for t in op.outputs}
    differing = [(producer[t].index, t, _differs(a, b), a.size)
                 for t, a, b in zip(tensors, got, expected, strict=True)
                 if t in producer and _differs(a, b)]
    if not differing:
        return "every op output matches when all of them are outputs"
    op_index, tensor, count, size = min(differing)
    op = graph.operators[op_index]
    return (f"op {op_index} ({op.opcode}) is the first whose output differs: tensor "
            f"{tensor} ({comment_text(graph.tensors[tensor].name, 60)}), {count} of {size} "
            "elements")
