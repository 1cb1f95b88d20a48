"""How the browser tests read and drive the dashboard as a person does: metric tiles by label, pages from the sidebar,
Streamlit inputs committed with Enter, Plotly charts by title, and screenshots of a whole page."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

WIDTH = 1440
"""The laptop width every screenshot is taken at."""

_CHART_JS = """(title) => {
    const plot = [...document.querySelectorAll('.js-plotly-plot')]
        .find(p => p.layout && p.layout.title && p.layout.title.text === title);
    if (!plot || !plot._fullData) return null;
    return {
        traces: plot._fullData.map(t => ({
            name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || []), title: t.title ? t.title.text : null,
            value: t.value === undefined ? null : t.value,
            customdata: t.customdata ? Array.from(t.customdata, row => Array.isArray(row) ? row : Array.from(row)) : null,
        })),
        annotations: (plot.layout.annotations || []).map(a => a.text),
    };
}"""


def metric(page: Page, label: str) -> Locator:
    """The metric tile labelled exactly ``label``."""
    label_element = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    return page.get_by_test_id("stMetric").filter(has=label_element)


def metric_value(page: Page, label: str) -> Locator:
    return metric(page, label).get_by_test_id("stMetricValue")


def metric_delta(page: Page, label: str) -> Locator:
    return metric(page, label).get_by_test_id("stMetricDelta")


def go(page: Page, title: str) -> None:
    """Open a page from the sidebar navigation and wait until it has finished drawing (no skeletons left)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=15_000)


def commit(field: Locator, text: str, *, shown: str | None = None, tries: int = 3) -> None:
    """Type into a Streamlit input and commit it (Enter), as a person does; with ``shown``, until the field shows it
    (a rerun that redraws the field while the text is typed puts the old value back, so a person types it again)."""
    for _ in range(tries):
        field.fill(text)
        field.press("Enter")
        if shown is None:
            return
        try:
            expect(field).to_have_value(shown, timeout=5_000)
            return
        except AssertionError:
            continue
    expect(field).to_have_value(shown or text)


def click_until(button: Locator, outcome: Locator, *, tries: int = 3) -> None:
    """Click ``button`` until ``outcome`` shows. A click that lands while a rerun redraws the page or a dialog can be
    dropped, so a person (and this test) clicks again; only for clicks whose repetition after they worked does no
    harm (the button is gone by then, or a second one changes nothing the test relies on). A button that vanishes
    while it is being clicked (the click worked and its rerun closed the dialog) ends the clicking: the outcome tells."""
    button.wait_for(state="visible", timeout=10_000)
    for _ in range(tries):
        with contextlib.suppress(PlaywrightTimeoutError):
            button.click(timeout=5_000)
        try:
            expect(outcome).to_be_visible(timeout=8_000)
            return
        except AssertionError:
            if not button.is_visible():
                break
    expect(outcome).to_be_visible(timeout=10_000)


def chart(page: Page, title: str, *, timeout_ms: float = 15_000) -> dict[str, Any]:
    """The Plotly chart titled ``title`` as drawn, once it is on the page: ``traces`` (name, x, y, customdata decoded;
    an indicator's title and value) and ``annotations`` (their texts)."""
    page.wait_for_function(f"(title) => ({_CHART_JS})(title) !== null", arg=title, timeout=timeout_ms)
    drawn: dict[str, Any] = page.evaluate(_CHART_JS, title)
    return drawn


def wait_for_annotations(page: Page, title: str, texts: set[str], *, timeout_ms: float = 15_000) -> None:
    """Wait until the chart titled ``title`` carries an annotation with each of ``texts`` (a fragment redraws it
    every second)."""
    page.wait_for_function(
        """([title, texts]) => {
            const plot = [...document.querySelectorAll('.js-plotly-plot')]
                .find(p => p.layout && p.layout.title && p.layout.title.text === title);
            const drawn = new Set(((plot && plot.layout.annotations) || []).map(a => a.text));
            return texts.every(t => drawn.has(t));
        }""",
        arg=[title, sorted(texts)],
        timeout=timeout_ms,
    )


def screenshot(page: Page, path: Path, *, bottom: Locator) -> None:
    """The whole page at :data:`WIDTH` px, once ``bottom`` (its last element) is drawn: the viewport is made as tall
    as the page's content first (a full-page capture alone stops at the viewport, since Streamlit scrolls inside
    ``stMain``)."""
    expect(bottom.first).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=15_000)
    height = page.evaluate(
        "() => { const block = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
        " return block.getBoundingClientRect().height + 120; }"
    )
    page.set_viewport_size({"width": WIDTH, "height": max(900, int(height))})
    page.wait_for_timeout(500)  # cosmetic: Plotly redraws on its resize handler; nothing is asserted on the image
    # a moment when no element is greyed out as stale by a rerun in flight
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=15_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": 1000})
