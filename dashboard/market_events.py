"""What happened to the account and the venue, placed on market time, and drawn on a chart (no Streamlit here).

Events: breaker trips and resets (``breaker_events``, market time), price shocks and fault windows (the audit log's
PRICE_SHOCK, SET_FAULTS and RESET_FAULTS rows, wall time, placed with :func:`dashboard.clock.to_market`). A fault
window runs from the SET_FAULTS that turned a switch on (any value but 0 / False) to the command that turned it off
(or RESET_FAULTS); one still on runs to the end of the chart. The switches are read from the audit detail
(:func:`dashboard.fault_names.fault_switches`).

Drawn as layout shapes and annotations, not traces: an instant is a vertical line, a window a shaded band; each
annotation's hover text gives the market and the wall time.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard.clock import to_market, utc_text
from dashboard.fault_names import fault_name, fault_switches

EVENT_COLUMNS = ("start", "end", "kind", "label", "detail", "wall")
"""``start``/``end`` market time (``end`` NaT for an instant), ``kind`` (trip | reset | shock | fault), a short
``label``, the ``detail`` for the hover, ``wall`` the wall time it began."""

VENUE_COMMANDS = ("PRICE_SHOCK", "SET_FAULTS", "RESET_FAULTS")
"""The audit-log commands :func:`market_events` reads."""

_STYLE = {  # colour, dash, height of the label (paper coordinates)
    "trip": ("#e8574c", "solid", 1.0),
    "reset": ("#3fb950", "solid", 1.0),
    "shock": ("#f0b429", "dot", 0.9),
}
_FAULT_FILL = "rgba(163, 113, 247, 0.14)"
_FAULT_TEXT = "#a371f7"
_GAP_FILL = "rgba(139, 148, 158, 0.22)"
_OFF_VALUES = frozenset({"0", "0.0", "False", ""})


def market_events(
    breaker: pd.DataFrame,
    commands: pd.DataFrame,
    clock: pd.DataFrame,
    *,
    now: tuple[datetime, datetime] | None = None,
) -> pd.DataFrame:
    """The events to draw, by start.

    Args:
        breaker: ``storage.guard_queries.breaker_history`` rows (``ts`` market, ``kind``, ``reason``, ``actor``,
            ``recorded_at`` wall); only trips and resets are kept.
        commands: ``storage.audit_queries.audit_log`` rows (``ts`` wall, ``command``, ``result``, ``detail``);
            only applied (OK) :data:`VENUE_COMMANDS` are read.
        clock: ``storage.clock_queries.clock_map``, to place the commands; ``now`` as in
            :func:`dashboard.clock.to_market`.

    Returns:
        :data:`EVENT_COLUMNS`; fault windows still open have ``end`` NaT and ``kind`` fault.
    """
    rows: list[dict[str, object]] = []
    for event in breaker.to_dict("records"):
        if event["kind"] == "BreakerTripped":
            rows.append(_row(event["ts"], pd.NaT, "trip", "TRIPPED", f"breaker tripped: {event['reason']}", event["recorded_at"]))
        elif event["kind"] == "BreakerReset":
            detail = f"breaker reset by {event['actor']}: {event['reason']}"
            rows.append(_row(event["ts"], pd.NaT, "reset", "reset", detail, event["recorded_at"]))
    venue = commands[commands["command"].isin(VENUE_COMMANDS) & (commands["result"] == "OK")].sort_values("ts")
    venue = venue.assign(market=to_market(venue["ts"], clock, now=now))
    opened: dict[str, dict[str, object]] = {}
    for command in venue.to_dict("records"):
        if command["command"] == "PRICE_SHOCK":
            detail = str(command["detail"]).split(" from ")[0]
            rows.append(_row(command["market"], pd.NaT, "shock", "shock", detail, command["ts"]))
            continue
        reset = command["command"] == "RESET_FAULTS"
        switches = {} if reset else fault_switches(str(command["detail"]))
        closing = list(opened) if reset else [n for n, v in switches.items() if n in opened and v in _OFF_VALUES]
        rows.extend(opened.pop(name) | {"end": command["market"]} for name in closing)
        for name, value in switches.items():
            if value not in _OFF_VALUES and name not in opened:
                label = fault_name(name)
                opened[name] = _row(command["market"], pd.NaT, "fault", label, f"{label} = {value}", command["ts"])
    rows.extend(opened.values())
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    frame = frame.assign(**{c: pd.to_datetime(frame[c], utc=True) for c in ("start", "end", "wall")})
    return frame.sort_values("start", kind="stable").reset_index(drop=True)


def _row(start: object, end: object, kind: str, label: str, detail: str, wall: object) -> dict[str, object]:
    return {"start": start, "end": end, "kind": kind, "label": label, "detail": detail, "wall": wall}


def add_market_events(figure: go.Figure, events: pd.DataFrame, *, start: datetime, end: datetime) -> go.Figure:
    """Draw the ``events`` (:func:`market_events`) that touch the chart's span [``start``, ``end``] on ``figure``:
    trips, resets and shocks as vertical lines labelled at the top (shocks a little lower, so a trip right after one
    stays readable), fault windows as shaded bands clipped to the span (one still open reaches ``end``), so no event
    widens the chart. Returns ``figure``."""
    for event in _within(events, start=start, end=end).to_dict("records"):
        hover = f"{event['detail']}<br>market {utc_text(event['start'])}<br>wall {utc_text(event['wall'])}"
        if event["kind"] == "fault":
            figure.add_shape(
                type="rect", xref="x", yref="paper", x0=event["start"], x1=event["end"], y0=0, y1=1,
                fillcolor=_FAULT_FILL, line={"width": 0}, layer="below",
            )
            figure.add_annotation(
                x=event["start"], xref="x", y=0.0, yref="paper", yanchor="bottom", xanchor="left",
                text=event["label"], showarrow=False, font={"size": 10, "color": _FAULT_TEXT}, hovertext=hover,
            )
            continue
        colour, dash, label_y = _STYLE[event["kind"]]
        figure.add_shape(
            type="line", xref="x", yref="paper", x0=event["start"], x1=event["start"], y0=0, y1=1,
            line={"color": colour, "width": 1.5, "dash": dash},
        )
        figure.add_annotation(
            x=event["start"], xref="x", y=label_y, yref="paper", yanchor="bottom", text=event["label"], showarrow=False,
            font={"size": 10, "color": colour}, hovertext=hover, bgcolor="rgba(13, 17, 23, 0.6)",
        )
    return figure


def _within(events: pd.DataFrame, *, start: datetime, end: datetime) -> pd.DataFrame:
    """The events that touch [``start``, ``end``]; fault windows clipped to it (one still open ends at ``end``)."""
    if events.empty:
        return events
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    faults = events["kind"] == "fault"
    stops = pd.to_datetime(events["end"], utc=True).astype("datetime64[ns, UTC]").fillna(end).where(faults, events["start"])
    touching = (events["start"] <= end) & (stops >= start)
    kept = events[touching]
    return kept.assign(
        start=kept["start"].where(~faults[touching] | (kept["start"] >= start), start),
        end=stops[touching].where(~faults[touching] | (stops[touching] <= end), end),
    )


def add_gaps(figure: go.Figure, gaps: pd.DataFrame) -> go.Figure:
    """Shade each open data gap (``start``, ``end`` market time: the missing candles' span) with a "gap" label.
    Returns ``figure``."""
    for gap in gaps.to_dict("records"):
        figure.add_shape(
            type="rect", xref="x", yref="paper", x0=gap["start"], x1=gap["end"], y0=0, y1=1,
            fillcolor=_GAP_FILL, line={"width": 0}, layer="below",
        )
        figure.add_annotation(
            x=gap["start"], xref="x", y=0.5, yref="paper", xanchor="left", text="open gap", showarrow=False,
            font={"size": 10, "color": "#c9d1d9"},
            hovertext=f"no candles from {utc_text(gap['start'])} to {utc_text(gap['end'])} yet",
        )
    return figure
