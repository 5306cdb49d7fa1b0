"""report.html in a real headless Chromium (Debian's package, driven by playwright):
it loads with no console error and no network request, and every plot is visible.
Screenshots are kept in test-artifacts/ (gitignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_tool

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: What Chromium needs here: root needs --no-sandbox; the machine has no network.
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    chromium = require_tool("chromium", "chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open(browser, page_file: Path, screenshot: str) -> dict:
    """Load a page; returns its console errors, requests and each plot's box."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri(), wait_until="load")
    plots = {}
    for figure in page.locator("figure.plot").all():
        figure.scroll_into_view_if_needed()
        svg = figure.locator("svg")
        plots[figure.get_attribute("data-plot")] = {
            "visible": svg.is_visible(), "box": svg.bounding_box(),
            "drawn": svg.evaluate("e => e.querySelectorAll('path, use, text').length")}
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    page.close()
    return {"errors": errors, "requests": requests, "plots": plots}


def _check(seen: dict, page_file: Path, expected: set[str]) -> None:
    assert seen["errors"] == []
    assert seen["requests"] == [page_file.as_uri()]  # the page itself, nothing else
    assert set(seen["plots"]) == expected
    for key, plot in seen["plots"].items():
        box = plot["box"]
        assert plot["visible"] and box["width"] > 250 and box["height"] > 150, key
        assert plot["drawn"] > 20, key  # not an empty SVG


def test_default_build_report_loads_offline_with_every_plot_visible(spine, browser):
    page_file = spine["root"] / "cortex-m4" / "report.html"
    seen = _open(browser, page_file, "report-cortex-m4.png")
    _check(seen, page_file, {"accuracy-flash", "confusion", "calibration", "layer-cost",
                             "layer-memory", "lifetimes", "training"})
    assert (ARTIFACTS / "report-cortex-m4.png").stat().st_size > 50_000


def test_binary_report_shows_roc_and_pr(binary_build, browser):
    page_file = binary_build / "report.html"
    seen = _open(browser, page_file, "report-binary.png")
    _check(seen, page_file, {"accuracy-flash", "confusion", "calibration", "roc-pr",
                             "layer-cost", "layer-memory", "lifetimes", "training"})


def test_compare_page_loads_offline(spine, browser, tmp_path):
    from tinykit.cli import main

    page_file = tmp_path / "compare.html"
    assert main(["compare", str(spine["root"] / "cortex-m4"), str(spine["root"] / "cortex-m7"),
                 "-o", str(page_file)]) == 0
    seen = _open(browser, page_file, "compare.png")
    _check(seen, page_file, {"compare"})
