"""The look every dashboard figure shares: the dark template, the palette, the base layout and the empty-data note.

Each figure built on :func:`base_figure` has a stable title, the dark template and a constant ``uirevision``, so a
user's zoom and pan survive the dashboard's once-a-second refresh (plotly keeps UI state while
``layout.uirevision`` is unchanged). An empty frame gives a figure with no traces and a note (:func:`waiting`)
instead of an error.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE = "plotly_dark"
WAITING_TEXT = "Waiting for the first candle…"

EQUITY_COLOUR = "#4c9be8"
GAIN_COLOUR = "#3fb950"
LOSS_COLOUR = "#e8574c"
LIMIT_COLOUR = "#e8574c"


def base_figure(title: str, *, revision: str) -> go.Figure:
    """An empty figure with ``title``, the dark template and ``uirevision`` = ``revision``.

    Built without plotly's property validation (``_validate=False``): validating the template's every trace default
    took ~8 ms of the ~10 ms a figure cost, per figure, per session, per refresh (4 charts on the Overview, 6 on
    Guards); the traces added later are validated when they are constructed (``go.Scatter(...)``), and the template
    object is plotly's own."""
    figure = go.Figure(_validate=False)
    figure.update_layout(
        template=pio.templates[TEMPLATE],
        title={"text": title},
        uirevision=revision,
        height=320,
        # Streamlit (1.67) re-creates a chart whose figure changed and sizes it to its column; a width in the figure
        # lets the new chart be drawn at once instead of staying hidden until its column is measured (a blank chart
        # on every refresh otherwise). The column's width still wins.
        width=600,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        paper_bgcolor="rgba(0,0,0,0)",
        hovermode="x unified",
        showlegend=False,
    )
    return figure


def waiting(figure: go.Figure, text: str = WAITING_TEXT) -> go.Figure:
    """``figure`` with ``text`` in the middle and its axes hidden: the figure of a frame with no data yet."""
    figure.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure
