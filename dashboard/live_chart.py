"""A Plotly chart that a refresh updates in place: no blank frame, and a user's zoom and pan kept.

``st.plotly_chart`` (Streamlit 1.67) makes its element's id from a hash of the figure's JSON, so every refresh that
changes a figure replaces the chart by a new element, which the browser paints empty before Plotly draws it: a
blank chart for a frame (or, on a browser short of CPU, for a second or more), and a zoom lost at every refresh
(streamlit/streamlit pull request 16052, open, changes that). :func:`live_chart` draws the same figure with a small
``st.components.v2`` component instead: the element's identity is its ``key`` (a v2 component with a key keeps its
element and calls its script again with the new data), and the script keeps one Plotly div and hands each new figure
to ``Plotly.react``, which updates the drawn chart in place and keeps the user's zoom and pan while the figure's
``layout.uirevision`` is unchanged (:mod:`dashboard.figure_style` sets a constant one per chart). The component's
cleanup (run when the element leaves the page, not between updates) releases the chart (``Plotly.purge``).

plotly.js comes from the plotly Python package this process already uses (``plotly/package_data/plotly.min.js``,
the same version that wrote the figure's JSON), served by Streamlit's own component file route
(``/component/<name>/<file>``, registered with ``st.components.v1.declare_component(path=…)``): no request leaves
the dashboard's host. The browser loads it once per page (then from its cache).

The drawn chart is a div with ``data-testid="ptChart"`` and, once Plotly has drawn it, Plotly's own
``js-plotly-plot`` class (its ``_fullData`` holds the drawn traces, as for any Plotly chart).
"""

from __future__ import annotations

from pathlib import Path

import plotly
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
import streamlit.components.v1 as components_v1

TEST_ID = "ptChart"
COMPONENT_NAME = "papertrader.live_chart"

_PLOTLY_JS = components_v1.declare_component("plotly_js", path=str(Path(plotly.__file__).parent / "package_data"))
PLOTLY_JS_URL = f"component/{_PLOTLY_JS.name}/plotly.min.js"
"""Where the page loads plotly.js from, relative to the page (so a ``server.baseUrlPath`` is kept)."""

_SCRIPT = """
function loadPlotly(url) {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!window.__papertraderPlotly) {
        window.__papertraderPlotly = new Promise((resolve, reject) => {
            const script = document.createElement("script");
            script.src = url;
            script.onload = () => resolve(window.Plotly);
            script.onerror = () => reject(new Error(`plotly.js could not be loaded from ${url}`));
            document.head.appendChild(script);
        });
    }
    return window.__papertraderPlotly;
}

export default function (component) {
    const { data, parentElement } = component;
    let chart = parentElement.querySelector("[data-testid='__TEST_ID__']");
    if (!chart) {
        chart = document.createElement("div");
        chart.dataset.testid = "__TEST_ID__";
        chart.style.width = "100%";
        parentElement.appendChild(chart);
    }
    const figure = JSON.parse(data.figure);
    const layout = Object.assign({}, figure.layout, { autosize: true });  // the column's width
    chart.style.minHeight = `${layout.height || 320}px`;  // its place kept while plotly.js loads
    loadPlotly(data.plotly).then((Plotly) =>
        Plotly.react(chart, figure.data, layout, { responsive: true, displaylogo: false })
    );
    return () => window.Plotly && window.Plotly.purge(chart);  // the element leaves the page
}
""".replace("__TEST_ID__", TEST_ID)

_CHART = st.components.v2.component(COMPONENT_NAME, js=_SCRIPT, isolate_styles=False)


def live_chart(figure: go.Figure, *, key: str) -> None:
    """Draw ``figure`` in the current Streamlit container as the chart ``key``, updated in place when a later run
    draws another figure with the same ``key`` (see the module docstring). ``figure`` is only read."""
    _CHART(key=key, data={"figure": pio.to_json(figure, validate=False), "plotly": PLOTLY_JS_URL})
