"""Byte-exact on whole models: the third-party models and Keras models converted here.

Every int8 model of ../shared/models that uses only supported ops must match
tflite-runtime's reference kernels on every output byte; so must the Keras test models,
which together contain every op of the kernel registry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.codegen_flatbuffers import reshapes_to_squeeze, zero_bias_quantized_dimension
from tests.codegen_helpers import assert_exact, verify_bytes, verify_file
from tests.codegen_models import CASES, ensure_models
from tests.integration.test_codegen_ops import ops_built
from tinykit.codegen.registry import KERNELS
from tinykit.tflite.reader import read_model

pytestmark = pytest.mark.toolchain

SHARED_EXACT = [
    "mlperf_kws_dscnn_int8.tflite", "mlperf_vww_mobilenetv1_int8.tflite",
    "mlperf_ic_resnet8_int8.tflite", "mlperf_ad_fc_autoencoder_int8.tflite",
    "mlperf_sww_dscnn_int8.tflite", "tflm_hello_world_int8.tflite",
    "tflm_micro_speech_int8.tflite", "mcunet_vww_int8_floatio.tflite",
    "mcunet_detection_int8_floatio.tflite",
]


@pytest.mark.parametrize("name", SHARED_EXACT)
def test_shared_model_is_byte_exact(name, shared_model):
    assert_exact(verify_file(shared_model(name), samples=6))


def test_person_detect_against_a_copy_tflite_runtime_accepts(shared_model, tmp_path):
    """tflite-runtime refuses the original (bias quantized_dimension 3); the C does not care."""
    original = shared_model("tflm_person_detect_int8.tflite").read_bytes()
    fixed = zero_bias_quantized_dimension(original)
    assert_exact(verify_bytes(fixed, tmp_path, "person_detect_fixed", samples=4))


@pytest.fixture(scope="session")
def keras_models() -> dict[str, Path]:
    return ensure_models()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_model_is_byte_exact(name, keras_models):
    path = keras_models[name]
    ops = {op.opcode for op in read_model(path).main.operators}
    missing = set(CASES[name]) - ops
    assert not missing, f"the converter no longer emits {missing} for {name}; fix the builder"
    assert_exact(verify_file(path, samples=6))


@pytest.mark.slow
def test_squeeze_from_an_older_converter(keras_models, tmp_path):
    """Converters used to emit SQUEEZE after Conv1D; today's emit RESHAPE."""
    data = reshapes_to_squeeze(keras_models["conv1d"].read_bytes())
    assert "SQUEEZE" in {op.opcode for op in read_model(data).main.operators}
    assert_exact(verify_bytes(data, tmp_path, "conv1d_squeeze"))


def test_every_registry_entry_is_run_by_a_byte_exact_test():
    """Keras models (their ops checked above), single-op models and the SQUEEZE rewrite
    together contain every op of the kernel registry."""
    keras = {op for ops in CASES.values() for op in ops}
    covered = keras | ops_built() | {"SQUEEZE"}
    assert set(KERNELS) <= covered, f"untested registry entries: {set(KERNELS) - covered}"
