"""Run generated models on emulated Cortex-M cores (QEMU) or boards, over one serial protocol.

- `protocol`: the framed protocol (frames, CRC, payloads) shared with the firmware.
- `machines`: the QEMU machines, their memory maps and the tick-to-instruction rule.
- `qemu`: start and always stop qemu-system-arm with its UART on a local TCP port.
- `client`: the host side of the protocol over any pyserial port (socket:// or a device).
- `bench`: `bench_model(options) -> BenchResult`, what `tinykit bench` and `build` call.
"""
