"""tinykit: from data to a verified int8 model running on a Cortex-M microcontroller."""

__version__ = "0.1.0"
