"""What every plot of the report shares: the style, variant colours and SVG output.

Figures are `matplotlib.figure.Figure` objects drawn with the Agg-free SVG backend, never
through pyplot, so no GUI backend or global figure state is involved; this module is
imported only when a report is rendered (never by `tinykit --help`). The SVG is made
reproducible (no date, fixed hash salt) and its element ids are prefixed per figure, so
several plots can be inlined in one HTML page without their ids clashing.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib: never a GUI backend

from matplotlib.figure import Figure  # noqa: E402

#: Colours of the variants the build evaluates (others cycle through `_OTHERS`).
VARIANT_COLOURS = {
    "teacher_float": "#6b7280", "student_float": "#2563eb",
    "student_int8_ptq": "#d97706", "student_int8_compressed": "#059669",
}
_OTHERS = ("#7c3aed", "#db2777", "#0891b2", "#65a30d", "#dc2626", "#4b5563")
ACCENT = "#059669"
WARN = "#dc2626"
MUTED = "#6b7280"
GRID = "#e5e7eb"

_STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans", "font.size": 9.0, "axes.titlesize": 10.5,
    "axes.titleweight": "bold", "axes.titlelocation": "left", "axes.labelsize": 9.0,
    "axes.edgecolor": "#9ca3af", "axes.linewidth": 0.8, "axes.grid": True,
    "grid.color": GRID, "grid.linewidth": 0.7, "axes.axisbelow": True,
    "axes.spines.top": False, "axes.spines.right": False, "xtick.color": "#374151",
    "ytick.color": "#374151", "legend.frameon": False, "legend.fontsize": 8.5,
    "svg.fonttype": "none", "svg.hashsalt": "tinykit-report", "figure.dpi": 100,
}


@dataclass(frozen=True)
class Plot:
    """One rendered plot: a stable id, a title, a caption for people and its SVG text."""

    key: str
    title: str
    caption: str
    svg: str


def variant_colour(name: str, order: list[str] | None = None) -> str:
    if name in VARIANT_COLOURS:
        return VARIANT_COLOURS[name]
    index = (order or []).index(name) if order and name in order else len(name)
    return _OTHERS[index % len(_OTHERS)]


@contextmanager
def style() -> Iterator[None]:
    with matplotlib.rc_context(cast(Any, _STYLE)):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure of `width` x `height` inches with the report's layout engine."""
    return Figure(figsize=(width, height), layout="constrained")


_ID = re.compile(r'\bid="([^"]+)"')


def to_svg(figure: Figure, prefix: str) -> str:
    """The figure as an SVG element (no XML prolog), ids prefixed with `prefix`-."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # The RDF metadata block only names its vocabularies' URLs; inline it is noise.
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    ids = set(_ID.findall(text))
    for old in sorted(ids, key=len, reverse=True):
        new = f"{prefix}-{old}"
        text = text.replace(f'id="{old}"', f'id="{new}"')
        text = text.replace(f"url(#{old})", f"url(#{new})")
        text = text.replace(f'href="#{old}"', f'href="#{new}"')
    # Scale with the page: the viewBox stays, the fixed size goes to CSS.
    text = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r"<svg\1", text, count=1)
    return text.strip()


def render_plots(report: Mapping[str, Any],
                 makers: list[tuple[str, str, Callable[[Mapping[str, Any]], Any]]]
                 ) -> list[Plot]:
    """Run each (key, title, maker); a maker returns (figure, caption) or None to skip."""
    plots = []
    with style():
        for key, title, maker in makers:
            made = maker(report)
            if made is None:
                continue
            figure, caption = made
            plots.append(Plot(key, title, caption, to_svg(figure, key)))
    return plots


def byte_axis(axis: Any, top: float) -> None:
    """Ticks at multiples of a power of two (about six of them), labelled as sizes."""
    from matplotlib.ticker import MultipleLocator

    base = 2 ** max(0, round(math.log2(max(top, 1) / 6)))
    axis.set_major_locator(MultipleLocator(base))
    axis.set_major_formatter(lambda x, _pos: human(x))


def binary_log_axis(axis: Any, low: float, high: float) -> None:
    """Log-scale ticks at powers of two between `low` and `high`, labelled as sizes."""
    from matplotlib.ticker import FixedLocator, NullLocator

    first, last = math.floor(math.log2(max(low, 1))), math.ceil(math.log2(max(high, 2)))
    ticks = [2.0**k for k in range(first, last + 1)]
    if len(ticks) > 8:
        ticks = ticks[::2]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(lambda x, _pos: human(x))


def human(n: float) -> str:
    """Bytes for axis labels: 950 B, 12.3 KiB, 1.0 MiB."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def short(name: str) -> str:
    """Variant names are long; plots label them without the redundant prefix."""
    return name.replace("student_", "").replace("_compressed", " compressed") \
        .replace("_", " ")
