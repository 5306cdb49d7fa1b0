"""Firmware: render firmware_templates/ with Jinja2 and cross-build with arm-none-eabi-gcc.

- `render_baremetal(spec, model_dir, out_dir)`: the benchmark firmware (QEMU or a board);
  `firmware_spec(target, emulated=..., ...)` makes its spec.
- `render_cmake_lib(...)`, `render_arduino(...)`: the model as a CMake library or an Arduino
  library, to drop into an existing project.
- `build_project(dir)` and `firmware_sizes(elf, model_name)`: build and measure.
"""
