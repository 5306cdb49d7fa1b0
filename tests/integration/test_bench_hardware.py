"""A real board on $TINYKIT_PORT (never in CI): `pytest -m hardware`.

Set TINYKIT_TARGET to the board (nucleo-l4r5zi, stm32f4-discovery, disco-f746ng or
nano33ble) and flash the benchmark firmware first:

    tinykit bench MODEL --target BOARD --build-only
    tinykit flash build/bench/MODEL-BOARD/firmware/build/firmware.bin --board BOARD --port PORT

using the KWS model, then run these tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinykit.emulate import protocol as p
from tinykit.emulate.bench import BenchOptions, bench_model
from tinykit.emulate.client import BenchClient, Link, open_port

pytestmark = pytest.mark.hardware

KWS = "mlperf_kws_dscnn_int8.tflite"


@pytest.fixture()
def board() -> tuple[str, str]:
    port, target = os.environ.get("TINYKIT_PORT"), os.environ.get("TINYKIT_TARGET")
    if not port or not target:
        pytest.skip("set TINYKIT_PORT and TINYKIT_TARGET to a board flashed with the "
                    "benchmark firmware")
    return port, target


def test_kws_on_the_board_matches_the_host_and_counts_cycles(board, shared_model, tmp_path):
    port, target = board
    result = bench_model(BenchOptions(model=shared_model(KWS), target=target, port=port,
                                      samples=3, work_dir=tmp_path))
    assert result.outputs_match is True, result.summary()
    assert result.count_unit == "cycles"
    assert result.count_per_inference and result.count_per_inference > 1_000_000
    total_layers = sum(layer.count for layer in result.per_layer)
    assert 0 < total_layers - result.count_per_inference < 2000  # the hook's own cycles
    assert result.measured_ms() is not None


def test_the_board_answers_malformed_frames_and_recovers(board):
    port, _target = board
    with open_port(port) as handle:
        link = Link(handle, name=f"board on {port}")
        client = BenchClient(link)
        client.hello()
        bad = bytearray(p.encode_frame(p.FrameType.HELLO, 5))
        bad[-1] ^= 1
        link.send_raw(bytes(bad))
        frame = link.receive(3.0)
        assert frame is not None and frame.type == p.FrameType.ERROR
        assert p.DeviceError.parse(frame.payload).code == p.ErrorCode.BAD_CRC
        link.send_raw(p.encode_frame(p.FrameType.READ_OUTPUT, 6, b"\x00")[:9])
        frame = link.receive(5.0)
        assert frame is not None
        assert p.DeviceError.parse(frame.payload).code == p.ErrorCode.TIMEOUT
        assert client.hello().counter_kind is p.CounterKind.CYCLES


def test_work_dir_is_kept_for_flashing(board, shared_model, tmp_path):
    port, target = board
    bench_model(BenchOptions(model=shared_model(KWS), target=target, port=port, samples=1,
                             work_dir=tmp_path))
    assert Path(tmp_path / "firmware" / "build" / "firmware.bin").is_file()
