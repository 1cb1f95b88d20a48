"""The price chart: candlesticks, entry/exit markers, the open position's levels, events and gaps — no Streamlit."""

from __future__ import annotations

import pandas as pd

from dashboard import price_figure as pf
from dashboard.figure_style import TEMPLATE
from dashboard.market_events import EVENT_COLUMNS
from storage.price_queries import BAR_COLUMNS, LEVEL_COLUMNS, MARKER_COLUMNS, PriceBars

T = pd.to_datetime(["2021-04-22 18:00", "2021-04-22 18:05", "2021-04-22 18:10", "2021-04-22 18:15"], utc=True)
BARS = PriceBars(
    "BTCUSDT", "5m", 300,
    pd.DataFrame({"ts": T, "open": [100.0, 101, 102, 103], "high": [102.0, 103, 104, 105], "low": [99.0, 100, 101, 102],
                  "close": [101.0, 102, 103, 104], "volume": [1.0] * 4}),
)
MARKERS = pd.DataFrame({
    "ts": T[[1, 2]], "side": ["BUY", "SELL"], "kind": ["entry", "exit"], "price": [101.5, 102.5], "quantity": [0.1, 0.1],
    "exit_reason": [None, "STOP"], "stop_price": [99.0, float("nan")], "target_price": [106.5, float("nan")],
    "pnl": [float("nan"), -2.1], "pnl_pct": [float("nan"), -1.2],
})
LEVELS = pd.DataFrame({
    "ts": T[[2, 3]], "quantity": [0.2, 0.2], "avg_entry": [102.0, 102.0], "stop_price": [100.0, 101.0],
    "target_price": [106.0, 106.0], "trail_high": [float("nan"), 104.0],
})
NO_EVENTS = pd.DataFrame(columns=list(EVENT_COLUMNS))
NO_GAPS = pd.DataFrame(columns=["start", "end"])


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def test_candles_markers_and_levels() -> None:
    figure = pf.price_figure(BARS, MARKERS, LEVELS, NO_EVENTS, NO_GAPS)

    assert [t.name for t in figure.data] == ["5m candles", "entry", "exit", "entry price", "trailing stop", "target"]
    candles, entry, exit_, _, stop, target = figure.data
    assert candles.type == "candlestick" and list(candles.close) == [101.0, 102, 103, 104]
    assert (entry.marker.symbol, list(entry.y)) == ("triangle-up", [101.5])
    assert (exit_.marker.symbol, list(exit_.y), list(exit_.marker.color)) == ("triangle-down", [102.5], [pf.LOSS_COLOUR])
    assert "STOP" in str(exit_.customdata[0]) and "P&L" in exit_.hovertemplate
    assert list(stop.y) == [100.0, 101.0, 101.0] and stop.line.shape == "hv"  # stepped, drawn on to the last bar's end
    assert pd.Timestamp(stop.x[-1]) == T[-1] + pd.Timedelta(minutes=5)
    assert list(target.y) == [106.0, 106.0, 106.0]
    assert figure.layout.xaxis.title.text == "market time (UTC) · 5m candles"
    assert figure.layout.xaxis.rangeslider.visible is False


def test_a_stop_not_yet_trailing_is_named_stop() -> None:
    figure = pf.price_figure(BARS, _empty(MARKER_COLUMNS), LEVELS.iloc[:1], NO_EVENTS, NO_GAPS)
    assert [t.name for t in figure.data] == ["5m candles", "entry price", "stop", "target"]


def test_events_in_the_span_are_drawn_and_open_gaps_shaded() -> None:
    """A trip inside the candles is a line; one long before them is not; a fault window that began before them is
    clipped to their start; an open gap is a shaded band."""
    events = pd.DataFrame({
        "start": [T[1], T[0] - pd.Timedelta(days=2), T[0] - pd.Timedelta(hours=1)],
        "end": [pd.NaT, pd.NaT, pd.NaT], "kind": ["trip", "reset", "fault"], "label": ["TRIPPED", "reset", "REST 429 storm"],
        "detail": ["x", "y", "z"], "wall": [T[1]] * 3,
    })
    gaps = pd.DataFrame({"start": [T[2]], "end": [T[3]]})

    figure = pf.price_figure(BARS, _empty(MARKER_COLUMNS), _empty(LEVEL_COLUMNS), events, gaps)

    texts = [a.text for a in figure.layout.annotations]
    assert texts == ["open gap", "TRIPPED", "REST 429 storm"]
    band = next(s for s in figure.layout.shapes if s.type == "rect" and s.x0 != T[2])
    assert pd.Timestamp(band.x0) == T[0] and pd.Timestamp(band.x1) == T[-1] + pd.Timedelta(minutes=5)


def test_no_candles_is_a_note_with_title_and_uirevision_kept() -> None:
    empty = PriceBars("ETHUSDT", "1m", 60, _empty(BAR_COLUMNS))

    figure = pf.price_figure(empty, _empty(MARKER_COLUMNS), _empty(LEVEL_COLUMNS), NO_EVENTS, NO_GAPS)

    assert len(figure.data) == 0 and [a.text for a in figure.layout.annotations] == [pf.NO_CANDLES_TEXT]
    assert figure.layout.title.text == pf.price_title("ETHUSDT") and figure.layout.uirevision == "price-ETHUSDT"
    assert figure.layout.template == TEMPLATE
