"""Kernel choice, weight layouts and the one-rounding and doubled-accumulator
requantizations (pure Python)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import numpy as np
import pytest

from tinykit.codegen import kernels
from tinykit.codegen.generate import kernel_sources
from tinykit.codegen.quant import multiply_by_quantized_multiplier as mbqm
from tinykit.codegen.registry import KERNELS
from tinykit.tflite.streaming import KERNEL_STREAMING


def one_rounding(acc: int, m: int, shift: int, zp: int) -> int:
    """tk_requant (tk_internal.h) in Python: the formula the kernels compute."""
    e = -shift
    constant = (1 << 30) + (1 << (30 + e)) + (zp << (31 + e))
    total = acc * m + constant - ((1 << 31) if acc < 0 else 0)
    return total >> (31 + e)


def near_ties(seed: int, lowest_e: int, limit: int) -> Iterator[tuple[int, int, int, int]]:
    """(acc, m, shift, zp) with exponents in [lowest_e, 23] and |acc| < limit, most with
    acc * m close to (k + 1/2) * 2^(31 + e), where TFLite's two roundings could differ
    from one."""
    rng = random.Random(seed)
    for _ in range(40_000):
        shift = -rng.randint(lowest_e, 23)
        m = rng.choice([0, 1 << 30, (1 << 31) - 1, rng.randint(1 << 30, (1 << 31) - 1)])
        if m and rng.random() < 0.6:
            k = rng.randint(-300, 300)
            acc = ((2 * k + 1) << (30 - shift)) // m + rng.randint(-2, 2)
        else:
            acc = rng.randint(-limit + 1, limit - 1)
        yield max(-limit + 1, min(limit - 1, acc)), m, shift, rng.randint(-128, 127)


def test_one_rounding_equals_tflite_double_rounding_near_every_tie():
    for acc, m, shift, zp in near_ties(7, 2, 1 << 31):
        assert one_rounding(acc, m, shift, zp) == mbqm(acc, m, shift) + zp, (acc, m, shift)


def smmlar_form(acc: int, m: int, shift: int, zp: int) -> int:
    """The DSP kernels' requantization (tk_conv.c, TK_DW3_TAIL in tk_dwconv.c,
    tk_conv1.c) in Python: SMMLAR of 2 * acc with kc - [acc < 0], then >> e."""
    e = -shift
    kc = (1 << (e - 1)) + zp * (1 << e)
    ra = kc - (1 if acc < 0 else 0)
    t = ((ra << 32) + 2 * acc * m + (1 << 31)) >> 32
    assert -(1 << 31) <= t < (1 << 31)  # no int32 wrap in the kernel
    return t >> e


def test_smmlar_form_equals_tflite_double_rounding_below_2_to_30():
    """For every exponent in [1, 23]: the im2col kernel takes [2, 23], the 3x3 depthwise
    loops and the one-channel kernel also 1."""
    for acc, m, shift, zp in near_ties(11, 1, kernels.IM2COL_ACC_LIMIT):
        assert smmlar_form(acc, m, shift, zp) == mbqm(acc, m, shift) + zp, (acc, m, shift)


def test_im2col_accumulators_must_stay_below_2_to_30():
    plan = kernels.requant_plan([1 << 30, 1 << 30], [-5, -5], [1000, -1000], [10, 10])
    assert kernels.accumulators_fit(plan, [10, 10])
    reach = (kernels.IM2COL_ACC_LIMIT - 1001) // 128  # the most that fits beside |bias| 1000
    assert kernels.accumulators_fit(plan, [10, reach])
    assert not kernels.accumulators_fit(plan, [10, reach + 1])


def test_a_dead_channel_too_large_for_im2col_becomes_constant():
    # MobileNet's dead channels: zero weights and a bias of 2^30 (fast exponent).
    m, shift, bias = 1500000000, -10, [1 << 30, 100]
    plan = kernels.requant_plan([m, m], [shift, shift], bias, [0, 50])
    assert plan.fast and plan.constant == (0,)
    assert kernels.accumulators_fit(plan, [0, 50])
    assert one_rounding(plan.bias[0], plan.multipliers[0], plan.shifts[0], 3) == \
        mbqm(1 << 30, m, shift) + 3
    # One that varies stays as it is: fast, but not for the im2col kernel.
    varies = kernels.requant_plan([m], [shift], [1 << 30], [1000])
    assert varies.fast and not varies.constant
    assert not kernels.accumulators_fit(varies, [1000])


def test_requant_doubles_needs_exponents_1_to_23_and_accumulators_below_2_30():
    def plan(shifts: list[int], bias: list[int]) -> kernels.RequantPlan:
        return kernels.RequantPlan(False, [1 << 30] * len(shifts), shifts, bias)

    assert kernels.requant_doubles(plan([-1, -23], [0, 0]), [10, 10])
    assert not kernels.requant_doubles(plan([0, -5], [0, 0]), [10, 10])     # e = 0
    assert not kernels.requant_doubles(plan([-24], [0]), [10])              # kc overflows
    assert not kernels.requant_doubles(plan([-5], [(1 << 30) - 1000]), [10])  # 2 acc overflows


def test_requant_plan_keeps_fast_layers_and_refuses_others():
    plan = kernels.requant_plan([1 << 30, 1500000000], [-5, -23], [10, -10], [100, 100])
    assert plan.fast and plan.multipliers == [1 << 30, 1500000000] and not plan.constant
    assert not kernels.requant_plan([1 << 30], [-1], [0], [10]).fast       # e = 1
    assert not kernels.requant_plan([1 << 30], [0], [0], [10]).fast        # e = 0
    assert not kernels.requant_plan([1 << 30], [3], [0], [10]).fast        # left shift
    per_tensor = kernels.requant_plan([1 << 30], [-30], [5, 6], [1, 1])
    assert not per_tensor.fast  # one multiplier for all rows cannot be remapped
    zero = kernels.requant_plan([0], [0], [1234], [50])
    assert zero.fast and zero.shifts == [-2]


@pytest.mark.parametrize("bias, reach", [(1 << 30, 0), (-(1 << 30), 0), (7, 3), (-5000, 40)])
def test_a_constant_channel_gives_tflite_result_everywhere_it_can_reach(bias, reach):
    m, shift = 1320764593, -27
    plan = kernels.requant_plan([m], [shift], [bias], [reach])
    assert plan.fast and plan.constant == (0,)
    result = mbqm(bias, m, shift)
    for acc in range(bias - 128 * reach, bias + 128 * reach + 1, max(1, reach)):
        assert mbqm(acc, m, shift) == result
    # With zero weights the kernel's accumulator is the new bias: it must give that result.
    new_bias, new_m, new_shift = plan.bias[0], plan.multipliers[0], plan.shifts[0]
    for zp in (-128, 0, 127):
        assert one_rounding(new_bias, new_m, new_shift, zp) == result + zp


def test_a_channel_that_varies_is_not_made_constant():
    plan = kernels.requant_plan([1 << 30], [-25], [0], [1 << 20])
    assert not plan.fast


def test_im2col_rows_are_padded_to_words():
    weights = np.arange(2 * 3 * 3 * 3, dtype=np.int8).reshape(2, 3, 3, 3)
    rows = kernels.im2col_weights(weights, kernels.conv_k_pad(3, 3, 3))
    assert rows.shape == (2, 28)
    assert (rows[:, :27] == weights.reshape(2, 27)).all() and (rows[:, 27] == 0).all()


def test_fully_connected_blocks_hold_four_rows_of_four_inputs():
    weights = np.arange(-60, -60 + 6 * 19, dtype=np.int8).reshape(6, 19)
    blocked = kernels.fc_blocked_weights(weights)
    assert blocked.shape == (2, 8, 4, 4)  # out 6 -> 8, in 19 -> 32
    for row in range(8):
        for k in range(32):
            want = weights[row, k] if row < 6 and k < 19 else 0
            assert blocked[row // 4, k // 4, row % 4, k % 4] == want


@pytest.mark.parametrize("features, arch, conv, dw, pool", [
    (("dsp", "mve", "fpu-sp"), "armv8.1-m.main", "mve", "dsp", "dsp"),
    (("dsp", "fpu-sp"), "armv7e-m", "dsp", "dsp", "dsp"),
    ((), "armv7-m", "portable", "portable", "portable"),
    ((), "armv6-m", "armv6m", "armv6m", "armv6m"),
])
def test_the_version_follows_the_core_features(features, arch, conv, dw, pool):
    assert kernels.kernel_version("tk_conv2d_im2col_s8", features, arch) == conv
    assert kernels.kernel_version("tk_depthwise_conv2d_3x3_s8", features, arch) == dw
    assert kernels.kernel_version("tk_average_pool_s8", features, arch) == pool
    assert kernels.kernel_version("tk_softmax_s8", features, arch) == "portable"
    assert kernels.kernel_label("", features, arch) == ""


def test_every_kernel_has_a_version_macro_and_matching_python_versions():
    header = kernel_sources()["tinykit_kernels.h"]
    macros = dict(re.findall(r"#define TK_ISA_(tk_\w+) (\S+)", header))
    registry = {k for entry in KERNELS.values() for k in entry.kernels}
    assert registry <= set(macros)
    for kernel, macro in macros.items():
        versions = kernels.KERNEL_VERSIONS.get(kernel, ("portable",))
        expected = {"TK_ISA_VECTOR": kernels.VECTOR_VERSIONS,
                    "TK_ISA_SIMD32": kernels.SIMD32_VERSIONS}.get(macro, ("portable",))
        assert versions == expected, kernel


def test_every_chosen_kernel_of_a_streaming_op_declares_its_kind():
    chosen = {"tk_conv2d_im2col_s8", "tk_conv2d_im2col_bytes_s8", "tk_conv2d_1ch_s8",
              "tk_conv2d_s8",
              "tk_depthwise_conv2d_3x3_s8", "tk_depthwise_conv2d_rows_s8",
              "tk_depthwise_conv2d_s8", "tk_add_table_s8", "tk_binary_s8"}
    assert chosen <= set(KERNEL_STREAMING)
    assert "tk_fully_connected_s8" not in KERNEL_STREAMING  # its output never overlaps
