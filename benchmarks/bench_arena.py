"""Our arena per model next to the sum of all activations, two lower bounds and TFLM.

Columns: arena (the plan the C generator uses), the sum of every non-constant tensor
(what a planner without reuse would need), the largest pair of tensors live during one op,
the largest set live during one op (the lower bound no whole-tensor plan can beat), and
TensorFlow Lite Micro's arena_used_bytes on cortex-m4 where known (it includes TFLM's own
bookkeeping), with our ratio to it.

    .venv/bin/python benchmarks/bench_arena.py
"""

from __future__ import annotations

import sys

from tinykit.paths import shared_models_dir
from tinykit.tflite.lifetimes import lifetimes
from tinykit.tflite.planner import plan_memory
from tinykit.tflite.reader import read_model

#: arena_used_bytes of TFLM's RecordingMicroInterpreter on cortex-m4.
TFLM_ARENA = {
    "mlperf_kws_dscnn_int8": 22_820, "mlperf_vww_mobilenetv1_int8": 100_708,
    "mlperf_ic_resnet8_int8": 54_996, "mlperf_ad_fc_autoencoder_int8": 2_580,
    "tflm_person_detect_int8": 82_308, "tflm_micro_speech_int8": 6_836,
}


def largest_pair(subgraph) -> int:  # type: ignore[no-untyped-def]
    """The two largest tensors live during one op, summed, over all ops (views merged)."""
    lives = lifetimes(subgraph)
    best = 0
    for k in range(max(len(subgraph.operators), 1)):
        sizes = sorted((life.size for life in lives.values()
                        if life.first_op <= k <= life.last_op), reverse=True)
        best = max(best, sum(sizes[:2]))
    return best


def main() -> int:
    models = sorted(shared_models_dir().glob("*.tflite"))
    if not models:
        print(f"no models in {shared_models_dir()}")
        return 1
    header = (f"{'model':<36}{'arena':>9}{'all act.':>10}{'pair':>9}{'set LB':>9}"
              f"{'TFLM':>9}{'ratio':>7}  strategy")
    print(header)
    print("-" * len(header))
    for path in models:
        subgraph = read_model(path).main
        plan = plan_memory(subgraph)
        everything = sum(e.size for e in plan.entries)
        tflm = TFLM_ARENA.get(path.stem)
        ratio = f"{plan.arena_bytes / tflm:.3f}" if tflm else "-"
        print(f"{path.stem:<36}{plan.arena_bytes:>9,}{everything:>10,}"
              f"{largest_pair(subgraph):>9,}{plan.lower_bound:>9,}"
              f"{tflm or '-':>9}{ratio:>7}  {plan.strategy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
