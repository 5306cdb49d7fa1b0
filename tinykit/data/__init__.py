"""Data: sources, checks, splits fitted on the training split only, and the data stage."""

from tinykit.data.dataset import RawData, Splits

__all__ = ["RawData", "Splits"]
