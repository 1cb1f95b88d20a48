"""The look every dashboard figure shares: the dark template, the palette, the base layout and the empty-data note.

Each figure built on :func:`base_figure` has a stable title, the dark template and a constant ``uirevision`` (plotly
keeps a user's zoom and pan across updates of a chart while ``layout.uirevision`` is unchanged). An empty frame gives
a figure with no traces and a note (:func:`waiting`) instead of an error.

The pages draw these figures with :func:`dashboard.live_chart.live_chart`, which updates a chart in place
(``Plotly.react``), so the ``uirevision`` keeps a zoom across the once-a-second refresh and a refresh never shows a
blank chart; ``st.plotly_chart`` (Streamlit 1.67) would replace the chart at every change instead.

Every figure travels whole to every browser on every refresh, so its bytes are kept down: the template is plotly's
``plotly_dark`` cut to what these figures draw (:data:`TEMPLATE`, ~1 kB instead of ~7.4 kB: a quarter of the
Overview's chart bytes at :data:`dashboard.reads.CHART_POINTS` points, and most of what handing a small figure to
Streamlit costs), and long series' times go as numbers (:func:`unix_ms`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE_LAYOUT = (
    "autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor", "xaxis", "yaxis",
    "shapedefaults", "annotationdefaults", "title",
)
"""The layout defaults of ``plotly_dark`` the dashboard keeps: not its colour scales, nor those of polar, ternary,
3-D, geographic plots, menus and sliders, which no dashboard figure has."""
TEMPLATE_TRACES = ("scatter", "bar")
"""The trace types whose ``plotly_dark`` defaults the dashboard keeps (candlesticks and indicators have none)."""
TEMPLATE = go.layout.Template(
    layout={name: value for name, value in pio.templates["plotly_dark"].layout.to_plotly_json().items() if name in TEMPLATE_LAYOUT},
    data={name: pio.templates["plotly_dark"].data[name] for name in TEMPLATE_TRACES},
)
"""``plotly_dark`` with only :data:`TEMPLATE_LAYOUT` and :data:`TEMPLATE_TRACES`: the same look for these figures."""
WAITING_TEXT = "Waiting for the first candle…"

EQUITY_COLOUR = "#4c9be8"
GAIN_COLOUR = "#3fb950"
LOSS_COLOUR = "#e8574c"
LIMIT_COLOUR = "#e8574c"


def base_figure(title: str, *, revision: str) -> go.Figure:
    """An empty figure with ``title``, the dark template (:data:`TEMPLATE`) and ``uirevision`` = ``revision``."""
    return go.Figure(
        layout={
            "template": TEMPLATE,
            "title": {"text": title},
            "uirevision": revision,
            "height": 320,  # the width is the column's (dashboard.live_chart)
            "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "hovermode": "x unified",
            "showlegend": False,
        }
    )


def unix_ms(times: pd.Series) -> np.ndarray:
    """Aware timestamps as Unix milliseconds (float64): the x of a long series on a date axis (``type="date"``, which
    reads numbers as milliseconds since the epoch, UTC). Plotly sends a float64 array as 8 binary bytes (base64) a
    point instead of an ISO string of 19 to 32 characters: a third of the x's bytes, or less."""
    naive_utc = pd.to_datetime(times, utc=True).dt.tz_convert(None)
    return naive_utc.to_numpy(dtype="datetime64[ms]").astype("int64").astype("float64")


def waiting(figure: go.Figure, text: str = WAITING_TEXT) -> go.Figure:
    """``figure`` with ``text`` in the middle and its axes hidden: the figure of a frame with no data yet."""
    figure.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure
