"""One clock on screen: wall times placed on market time, and the text both are shown as (no Streamlit here).

The dashboard places everything on market time (``../shared/SPEC.md`` §5). Rows that carry only a wall time (the
audit log, REST attempts, rate-limit samples, WebSocket events) are placed with the engine's clock map
(:func:`storage.clock_queries.clock_map`), interpolated linearly between its points and held flat beyond its ends;
``now`` — the wall time of the page and the market time the engine reports — extends the map to the present, so
an event newer than the last candle lands where the engine was when it happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from engine.sinks.status import EngineStatus

MARKET_AXIS_TITLE = "market time (UTC)"
"""The x-axis title of every chart placed on market time."""


def to_market(
    wall: pd.Series, clock: pd.DataFrame, *, now: tuple[datetime, datetime] | None = None
) -> pd.Series:
    """The market time at each wall time of ``wall``.

    Args:
        wall: aware UTC timestamps (NaT allowed: it stays NaT).
        clock: :func:`storage.clock_queries.clock_map`: ``wall``, ``market`` ascending.
        now: ``(wall, market)`` of the present (aware), appended to the map when it is newer than its last point.

    Returns:
        A ``datetime64[ns, UTC]`` series aligned with ``wall``; all NaT when there is no map and no ``now``.
    """
    walls = _ns(clock["wall"]) if not clock.empty else np.array([], dtype="int64")
    markets = _ns(clock["market"]) if not clock.empty else np.array([], dtype="int64")
    if now is not None and (walls.size == 0 or _ns_of(now[0]) > walls[-1]):
        walls = np.append(walls, _ns_of(now[0]))
        markets = np.append(markets, max(_ns_of(now[1]), markets[-1] if markets.size else _ns_of(now[1])))
    values = pd.to_datetime(wall, utc=True)
    if walls.size == 0:
        return pd.Series(pd.NaT, index=wall.index, dtype="datetime64[ns, UTC]")
    known = values.notna().to_numpy()
    mapped = np.full(len(values), np.iinfo("int64").min, dtype="int64")  # NaT
    x = values.to_numpy(dtype="datetime64[ns]").astype("int64")[known]
    mapped[known] = np.interp(x.astype("float64"), walls.astype("float64"), markets.astype("float64")).astype("int64")
    return pd.Series(pd.to_datetime(mapped, utc=True), index=wall.index)


def on_market_time(
    frame: pd.DataFrame, clock: pd.DataFrame, columns: Mapping[str, str], *, now: tuple[datetime, datetime] | None = None
) -> pd.DataFrame:
    """``frame`` with, for each ``wall column → new column`` of ``columns``, the market time of that wall time
    (:func:`to_market`) added."""
    return frame.assign(**{new: to_market(frame[old], clock, now=now) for old, new in columns.items()})


def utc_text(moment: datetime | pd.Timestamp | None, *, seconds: bool = True) -> str:
    """``YYYY-MM-DD HH:MM[:SS] UTC``; ``—`` for ``None``/NaT."""
    if moment is None or pd.isna(moment):
        return "—"
    return pd.Timestamp(moment).tz_convert(UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _ns(series: pd.Series) -> np.ndarray:
    return pd.to_datetime(series, utc=True).to_numpy(dtype="datetime64[ns]").astype("int64")


def _ns_of(moment: datetime) -> int:
    return int(pd.Timestamp(moment).tz_convert(UTC).value)


def present(status: EngineStatus, *, wall: datetime | None = None) -> tuple[datetime, datetime] | None:
    """``(wall, market)`` now: this computer's clock (``wall``, default the current time) and the market time the
    engine reports; ``None`` before the engine has seen market data. The ``now`` of :func:`to_market`."""
    if status.market_time_ms is None:
        return None
    return wall or datetime.now(UTC), datetime.fromtimestamp(status.market_time_ms / 1000, tz=UTC)
