"""The cmake-lib and arduino templates with the real KWS model.

cmake-lib: configures and builds with cmake and its arm-none-eabi toolchain file, and the
library links into a program. arduino: the library layout the Arduino IDE expects, src/
and the example's logic cross-compile, and the logic, built for the host, predicts what
tflite-runtime predicts for the same sample.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_tool
from tinykit.codegen.generate import KERNEL_FILES
from tinykit.emulate.reference import TFLITE_REFERENCE
from tinykit.errors import ConfigError
from tinykit.firmware.export import export_library

KERNEL_C_FILES = tuple(name for name in KERNEL_FILES if name.endswith(".c"))

pytestmark = pytest.mark.toolchain

KWS = "mlperf_kws_dscnn_int8.tflite"
M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]


def _run(command: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(command)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_cmake_lib_builds_with_the_toolchain_file_and_links(shared_model, tmp_path):
    require_tool("cmake", "cmake")
    require_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    lib = export_library("cmake-lib", shared_model(KWS), tmp_path / "kws", name="kws",
                         target="cortex-m4")
    assert (lib / "include" / "kws.h").is_file() and (lib / "src" / "kws.c").is_file()
    assert not (lib / "src" / "kws.h").exists()
    toolchain = (lib / "cmake" / "arm-none-eabi.cmake").read_text()
    assert '"-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"' in toolchain
    build = tmp_path / "build"
    _run(["cmake", "-S", str(lib), "-B", str(build), "-DCMAKE_BUILD_TYPE=MinSizeRel",
          f"-DCMAKE_TOOLCHAIN_FILE={lib / 'cmake' / 'arm-none-eabi.cmake'}"])
    _run(["cmake", "--build", str(build), "-j2"])
    archive = build / "libkws.a"
    header = _run(["arm-none-eabi-objdump", "-f", str(archive)])
    assert "elf32-littlearm" in header
    attributes = _run(["arm-none-eabi-readelf", "-A", str(archive)])
    assert "Tag_CPU_arch: v7E-M" in attributes and "Tag_ABI_VFP_args: VFP" in attributes
    # An application links against it, as add_subdirectory + target_link_libraries would.
    app = tmp_path / "app.c"
    app.write_text('#include <string.h>\n#include "kws.h"\nint main(void) {\n'
                   '  if (kws_init() != 0) return 1;\n'
                   '  memset(kws_input(0), 0, kws_input_bytes(0));\n'
                   '  return kws_invoke();\n}\n')
    _run(["arm-none-eabi-gcc", *M4, "--specs=nosys.specs", "-Wl,--gc-sections",
          f"-I{lib / 'include'}", str(app), str(archive), "-lm", "-o", str(tmp_path / "app.elf")])


def test_cmake_lib_builds_for_the_host_too(shared_model, tmp_path):
    require_tool("cmake", "cmake")
    require_tool("cc", "gcc")
    lib = export_library("cmake-lib", shared_model(KWS), tmp_path / "kws", name="kws")
    build = tmp_path / "build"
    _run(["cmake", "-S", str(lib), "-B", str(build)])
    _run(["cmake", "--build", str(build), "-j2"])
    assert (build / "libkws.a").is_file()


def test_arduino_library_layout(shared_model, tmp_path):
    lib = export_library("arduino", shared_model(KWS), tmp_path / "kws", name="kws")
    properties = dict(line.split("=", 1) for line in
                      (lib / "library.properties").read_text().splitlines())
    assert properties["name"] == "kws" and properties["includes"] == "kws.h"
    assert re.fullmatch(r"\d+\.\d+\.\d+", properties["version"])
    for key in ("author", "maintainer", "sentence", "paragraph", "category", "architectures"):
        assert properties[key], key
    assert {p.name for p in (lib / "src").iterdir()} == {"kws.c", "kws.h", *KERNEL_FILES}
    sketch = lib / "examples" / "Predict"
    # The IDE needs the sketch named after its folder.
    assert {p.name for p in sketch.iterdir()} == {
        "Predict.ino", "predict_logic.cpp", "predict_logic.h"}
    ino = (sketch / "Predict.ino").read_text()
    assert "Serial.begin(115200)" in ino and "#include <kws.h>" in ino


def test_arduino_sources_and_example_logic_cross_compile(shared_model, tmp_path):
    require_tool("arm-none-eabi-g++", "gcc-arm-none-eabi libnewlib-arm-none-eabi")
    lib = export_library("arduino", shared_model(KWS), tmp_path / "kws", name="kws")
    for source in ("kws.c", *KERNEL_C_FILES):
        _run(["arm-none-eabi-gcc", *M4, "-Os", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
              f"-I{lib / 'src'}", "-c", str(lib / "src" / source), "-o",
              str(tmp_path / f"{source}.o")])
    _run(["arm-none-eabi-g++", *M4, "-Os", "-std=gnu++11", "-fno-exceptions", "-fno-rtti",
          "-Wall", "-Wextra", "-Werror", f"-I{lib / 'src'}", "-c",
          str(lib / "examples" / "Predict" / "predict_logic.cpp"), "-o",
          str(tmp_path / "logic.o")])


DRIVER = r"""#include <stdio.h>
#include "predict_logic.h"
#include <kws.h>
int main(void) {
  SampleReader reader; char out[512]; int c;
  kws_init(); sample_reader_reset(&reader);
  while ((c = getchar()) != EOF) {
    int state = sample_reader_feed(&reader, (char)c);
    if (state == SAMPLE_ERROR) puts(sample_reader_error(&reader));
    if (state == SAMPLE_READY) { predict(out, sizeof out); fputs(out, stdout); }
    if (state != SAMPLE_MORE) sample_reader_reset(&reader);
  }
  return 0;
}
"""


def test_arduino_example_logic_predicts_what_tflite_predicts(shared_model, tmp_path):
    for tool in ("cc", "c++"):
        require_tool(tool, "gcc g++")
    from tinykit.tflite import litert

    model = shared_model(KWS)
    lib = export_library("arduino", model, tmp_path / "kws", name="kws")
    src, sketch = lib / "src", lib / "examples" / "Predict"
    (tmp_path / "driver.cpp").write_text(DRIVER)
    objects = []
    for source in ("kws.c", *KERNEL_C_FILES):
        objects.append(str(tmp_path / f"{source}.o"))
        _run(["cc", "-O1", "-std=c99", f"-I{src}", "-c", str(src / source), "-o", objects[-1]])
    exe = tmp_path / "predict"
    _run(["c++", "-O1", f"-I{src}", f"-I{sketch}", str(sketch / "predict_logic.cpp"),
          str(tmp_path / "driver.cpp"), *objects, "-lm", "-o", str(exe)])
    rng = np.random.default_rng(4)
    sample = rng.integers(-128, 128, size=(1, 49, 10, 1), dtype=np.int8)
    (expected,) = litert.run_model(model, [[sample]])[0]
    line = ", ".join(str(v) for v in sample.ravel()) + "\n"
    bad = "1, 2, x\n" + "3 " * 500 + "\n"
    out = subprocess.run([str(exe)], input=bad + line, capture_output=True, text=True).stdout
    assert "error: not an integer" in out and "error: more than 490 values" in out
    best = int(np.argmax(expected.ravel()))
    assert f"class {best}, score" in out, (out, TFLITE_REFERENCE)
    assert "outputs: " + ",".join(str(v) for v in expected.ravel()) in out


def test_export_refuses_an_unknown_template(shared_model, tmp_path):
    with pytest.raises(ConfigError, match="known: baremetal, cmake-lib, arduino"):
        export_library("zephyr", shared_model(KWS), tmp_path / "x")
    assert shutil.which("true")
