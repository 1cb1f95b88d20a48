"""The dashboard's shared look: plotly_dark, cut to what the dashboard's figures draw."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from dashboard.figure_style import TEMPLATE, TEMPLATE_LAYOUT, TEMPLATE_TRACES, base_figure, unix_ms

DARK = pio.templates["plotly_dark"]


def test_the_template_is_plotly_darks_look_for_the_traces_and_layout_the_dashboard_draws() -> None:
    layout = TEMPLATE.layout.to_plotly_json()
    assert set(layout) == set(TEMPLATE_LAYOUT)
    assert layout == {name: value for name, value in DARK.layout.to_plotly_json().items() if name in TEMPLATE_LAYOUT}
    assert {name: TEMPLATE.data[name] for name in TEMPLATE_TRACES} == {name: DARK.data[name] for name in TEMPLATE_TRACES}


def test_the_template_is_a_small_part_of_every_figures_bytes() -> None:
    """It travels in every figure on every refresh: about 1 kB, not plotly_dark's 7.4 kB."""
    ours = len(pio.to_json(go.Figure(layout={"template": TEMPLATE})))
    theirs = len(pio.to_json(go.Figure(layout={"template": DARK})))
    assert ours < 1200 and theirs > 6 * ours


def test_the_base_figure_carries_the_template_title_and_uirevision() -> None:
    figure = base_figure("Equity (USDT)", revision="equity")
    assert figure.layout.template == TEMPLATE
    assert (figure.layout.title.text, figure.layout.uirevision) == ("Equity (USDT)", "equity")


def test_unix_ms_gives_the_milliseconds_a_date_axis_reads_whatever_the_zone_and_resolution() -> None:
    times = pd.Series(pd.to_datetime(["2021-04-20 00:00:00.123", "2021-04-20 02:00:00.000"], utc=True))
    expected = [1_618_876_800_123.0, 1_618_884_000_000.0]
    assert unix_ms(times).tolist() == expected
    assert unix_ms(times.dt.tz_convert("Europe/Berlin")).tolist() == expected
    assert unix_ms(times.astype("datetime64[s, UTC]")).tolist() == [1_618_876_800_000.0, 1_618_884_000_000.0]


def test_a_series_of_unix_ms_travels_as_eight_binary_bytes_a_point() -> None:
    times = pd.Series(pd.date_range("2021-04-20", periods=600, freq="min", tz="UTC"))
    as_numbers = pio.to_json(go.Figure(go.Scatter(x=unix_ms(times), y=[0.0] * 600)))
    as_timestamps = pio.to_json(go.Figure(go.Scatter(x=times, y=[0.0] * 600)))
    assert '"x":{"dtype":"f8","bdata"' in as_numbers
    assert len(as_numbers) < len(as_timestamps) - 600 * 10
