"""The one exception family of tinykit.

Every error a user can cause (bad input, missing tools, a device that does not answer)
is a `TinykitError`: `tinykit.cli.main` catches it once, prints the message and the
hint, and exits with `exit_code` (2). Anything else escaping is a bug in tinykit.
"""

from __future__ import annotations


class TinykitError(Exception):
    """An error with a message that names the problem and a hint that names the way out."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(TinykitError):
    """A configuration key or value is unknown or out of range."""


class TargetError(ConfigError):
    """An unknown target, a bad target file or an `extends` cycle."""


class DataError(TinykitError):
    """A data set is missing, empty, single-class or malformed."""


class ModelError(TinykitError):
    """A model file is truncated, corrupt or not what was expected."""


class UnsupportedError(TinykitError):
    """A model uses something tinykit cannot run (an op, a dtype, a quantization scheme)."""


class ConversionError(TinykitError):
    """A Keras model cannot be converted to the requested TFLite form."""


class ToolchainError(TinykitError):
    """A compiler, emulator or other external program is missing or failed."""


class BudgetError(TinykitError):
    """A model does not fit the target's flash or RAM."""


class EmulatorError(TinykitError):
    """The emulator could not be started, hung, or the guest misbehaved."""


class SerialError(TinykitError):
    """A serial port is absent or busy, or a device timed out or answered wrongly."""


class FlashError(SerialError):
    """A bootloader refused a command or the flash did not verify."""


class ReportError(TinykitError):
    """A report file is damaged or from another schema version."""


class OutputError(TinykitError):
    """An output file or folder cannot be written."""
