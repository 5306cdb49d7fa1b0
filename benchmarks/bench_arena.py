"""Our arena per model next to TensorFlow Lite Micro's and the whole-tensor lower bound.

Columns:
- arena: the plan `tinykit codegen` lays out (and `tinykit analyze` prints): streams,
  in-place element-wise ops, branch order, offsets aligned as the kernels need, and the
  scratch buffers of the kernels the code generator picks;
- TFLM: arena_used_bytes of TFLM's recording interpreter on cortex-m4 (the issue's table;
  it includes TFLM's own bookkeeping and CMSIS-NN's scratch), and our ratio to it (goal:
  at most 0.7);
- no scratch: the same plan without the kernels' scratch buffers (activations alone), and
  its ratio: the difference is what the kernels' scratch costs;
- whole LB: the old bound, the largest set of whole tensors live during one op with
  16-byte offsets, which no plan that keeps an op's input and output apart can beat;
- bound: the lower bound of our plan given its streams; streams: ops whose output
  overlaps their dying input; ms: planning time.

    .venv/bin/python benchmarks/bench_arena.py
"""

from __future__ import annotations

import sys
import time

from tinykit.codegen.generate import arena_plan
from tinykit.paths import shared_models_dir
from tinykit.tflite.planner import plan_memory
from tinykit.tflite.reader import read_model

#: arena_used_bytes of TFLM's RecordingMicroInterpreter on cortex-m4.
TFLM_ARENA = {
    "mlperf_kws_dscnn_int8": 22_820, "mlperf_vww_mobilenetv1_int8": 100_708,
    "mlperf_ic_resnet8_int8": 54_996, "mlperf_ad_fc_autoencoder_int8": 2_580,
    "tflm_person_detect_int8": 82_308, "tflm_micro_speech_int8": 6_836,
}


def main() -> int:
    models = sorted(shared_models_dir().glob("*.tflite"))
    if not models:
        print(f"no models in {shared_models_dir()}")
        return 1
    header = (f"{'model':<36}{'arena':>9}{'TFLM':>9}{'ratio':>7}{'no scratch':>11}"
              f"{'ratio':>7}{'whole LB':>10}{'bound':>9}{'streams':>8}{'ms':>6}  order")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for path in models:
        subgraph = read_model(path).main
        start = time.perf_counter()
        chosen = arena_plan(subgraph)  # what the generated C lays out, scratch included
        plan = chosen.plan
        millis = 1000 * (time.perf_counter() - start)
        whole = plan_memory(subgraph, scratch={}, streaming_ops={}, alignment=16,
                            reorder=False)
        bare = plan_memory(subgraph, scratch={}).arena_bytes
        tflm = TFLM_ARENA.get(path.stem)
        ratio = plan.arena_bytes / tflm if tflm else None
        worst = max(worst, ratio or 0.0)
        print(f"{path.stem:<36}{plan.arena_bytes:>9,}{f'{tflm:,}' if tflm else '-':>9}"
              f"{f'{ratio:.3f}' if ratio else '-':>7}{bare:>11,}"
              f"{f'{bare / tflm:.3f}' if tflm else '-':>7}{whole.lower_bound:>10,}"
              f"{plan.lower_bound:>9,}{len(plan.streams):>8}{millis:>6.0f}  "
              f"{'reordered' if plan.reordered else 'as in file'}"
              f"{'  (no C: generic kernels)' if chosen.note else ''}")
    print(f"\nlargest ratio to TFLM: {worst:.3f} (goal: at most 0.7)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
