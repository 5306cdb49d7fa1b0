"""Fuzzing the reader: any byte string reads or raises a TinykitError, fast and small.

Three sources of input: arbitrary bytes, bytes behind a valid header (so the decoder
gets past the identifier), and truncations and byte mutations of the real models. The
deadline catches hangs; tracemalloc catches a forged length turning into a huge allocation.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import tracemalloc
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import shared_model_paths
from tinykit.errors import TinykitError
from tinykit.tflite.analysis import analyze_subgraph
from tinykit.tflite.analyze import AnalyzeResult
from tinykit.tflite.planner import plan_memory
from tinykit.tflite.reader import read_model
from tinykit.tflite.render import json_text, text

FUZZ = settings(max_examples=150, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
SMALL_MODELS = [p for p in shared_model_paths() if p.stat().st_size < 60_000]


def _read_or_refuse(data: bytes) -> None:
    """The property: a model comes back (and analyses and plans) or a TinykitError is raised."""
    try:
        model = read_model(data)
    except TinykitError:
        return
    for subgraph in model.subgraphs:
        try:
            analysis = analyze_subgraph(subgraph)
            plan = plan_memory(subgraph)
        except TinykitError:
            continue
        single = dataclasses.replace(model, subgraphs=(subgraph,))
        result = AnalyzeResult(Path("fuzz.tflite"), single, analysis, plan, None)
        assert "\x1b" not in text(result, show_plan=True)
        json.loads(json_text(result))


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    _read_or_refuse(data)


@FUZZ
@given(st.integers(0, 4096), st.binary(max_size=2048))
def test_bytes_behind_a_valid_header(root: int, body: bytes) -> None:
    _read_or_refuse(struct.pack("<I", root) + b"TFL3" + body)


@cache
def _model_bytes(path: Path) -> bytes:
    return path.read_bytes()


@pytest.mark.skipif(not SMALL_MODELS, reason="../shared/models is absent")
@FUZZ
@given(st.data())
def test_mutated_real_models(data: st.DataObject) -> None:
    original = _model_bytes(data.draw(st.sampled_from(SMALL_MODELS), label="model"))
    mutated = bytearray(original)
    size = len(mutated)
    # Half the edits land in the first and last 2 KB, where tables, vtables and offsets
    # live; the rest anywhere (mostly weights, which must read without complaint).
    position = st.one_of(st.integers(0, min(size, 2048) - 1),
                         st.integers(max(0, size - 2048), size - 1), st.integers(0, size - 1))
    for _ in range(data.draw(st.integers(1, 8), label="edits")):
        at = data.draw(position, label="at")
        mutated[at] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.one_of(st.just(size), st.integers(0, size)), label="cut")
    _read_or_refuse(bytes(mutated[:cut]))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(0, 1024), st.binary(min_size=1016, max_size=1016))
def test_a_kilobyte_never_allocates_megabytes(root: int, body: bytes) -> None:
    data = struct.pack("<I", root) + b"TFL3" + body
    tracemalloc.start()
    try:
        _read_or_refuse(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"{peak} bytes allocated for a 1 KB input"


def test_forged_vector_length_is_refused_before_allocating() -> None:
    # Model table: version 3 and a subgraphs vector that claims 2**31 elements in a
    # 34-byte file. Layout: root offset, identifier, vtable (slots 0..2), table, vector.
    vtable = struct.pack("<HHHHH", 10, 12, 4, 0, 8)
    table_pos = 8 + len(vtable)
    table = struct.pack("<iII", table_pos - 8, 3, 4)
    vector = struct.pack("<I", 2**31)
    data = struct.pack("<I", table_pos) + b"TFL3" + vtable + table + vector
    with pytest.raises(TinykitError, match="outside the file"):
        read_model(data)
