"""Rendering pieces that need no build: SVG ids per plot, and heavy imports kept lazy."""

from __future__ import annotations

import re
import subprocess
import sys

from tinykit.report.plotting import new_figure, style, to_svg


def _figure():
    figure = new_figure(3, 2)
    ax = figure.add_subplot()
    ax.plot([0, 1, 2], [1, 0, 1], marker="o")
    ax.set_title("t")
    return figure


def test_svg_ids_are_prefixed_per_plot_and_references_follow():
    with style():
        first, second = to_svg(_figure(), "a"), to_svg(_figure(), "b")
    ids_a = re.findall(r'\bid="([^"]+)"', first)
    ids_b = re.findall(r'\bid="([^"]+)"', second)
    assert ids_a and all(i.startswith("a-") for i in ids_a)
    assert not set(ids_a) & set(ids_b)  # two plots inline in one page cannot clash
    for reference in re.findall(r'(?:href="#|url\(#)([^")]+)', first):
        assert reference in ids_a
    assert first.startswith("<svg") and "<metadata>" not in first and 'width="' not in \
        first.split(">", 1)[0]


def test_the_same_figure_gives_the_same_svg():
    with style():
        assert to_svg(_figure(), "x") == to_svg(_figure(), "x")


def test_help_and_report_help_import_no_plotting_or_schema_library():
    code = ("import sys\nfrom tinykit.cli import main\n"
            "main(['--help']); main(['report', '--help']); main(['compare', '--help'])\n"
            "print(sorted(m for m in ('matplotlib', 'jsonschema', 'tensorflow', 'scipy')"
            " if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
