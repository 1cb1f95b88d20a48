"""Read-only queries for the dashboard: a DuckDB cursor in, a pandas DataFrame (or a dict) out.

Every function takes a cursor of the calling thread (:meth:`storage.store.Store.cursor`) and returns:

* timestamps as tz-aware UTC (``datetime64[us, UTC]`` columns, or aware ``datetime`` in dicts);
* money as ``float`` in display frames (exact ``Decimal`` stays in the database); percentages in percent;
* an empty frame with the same columns when there is no data.

Queries run as relations (``cur.sql``) read through Arrow: nothing is left unfinished on the cursor, and
TIMESTAMPTZ values need no ``pytz``.
Long series are downsampled in SQL, never in Python (``../shared/SPEC.md`` §5).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

EQUITY_CURVE_COLUMNS = ("ts", "equity", "realised_pnl", "unrealised_pnl", "drawdown_pct")


def latest_equity(cur: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The newest ``equity`` snapshot (by ``ts``, then ``recorded_at``) as ``{column: value}``, or ``None``.

    Every column of the table is present; ``ts`` and ``recorded_at`` are aware UTC datetimes, ``symbol`` and
    ``source`` (what marked it) strings, the rest floats.
    """
    rows = _arrow(cur, "SELECT * FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1").to_pylist()
    if not rows:
        return None
    return {key: value.astimezone(UTC) if isinstance(value, datetime) else value for key, value in rows[0].items()}


def equity_curve(cur: duckdb.DuckDBPyConnection, *, max_points: int = 2000) -> pd.DataFrame:
    """The equity series for charts, ascending by ``ts``, at most ``max_points`` rows.

    Up to ``max_points`` snapshots are returned as they are. Beyond that, the time span is cut into
    ``(max_points - 1) // 2`` equal buckets and each bucket keeps its lowest- and highest-equity snapshot
    (so spikes and dips survive), plus the latest snapshot, which is always the last row.

    Returns:
        Columns ``ts`` (UTC), ``equity``, ``realised_pnl``, ``unrealised_pnl`` (quote asset), ``drawdown_pct``.

    Raises:
        ValueError: ``max_points`` < 3.
    """
    if max_points < 3:
        raise ValueError(f"max_points must be at least 3, got {max_points}")
    columns = ", ".join(EQUITY_CURVE_COLUMNS)
    [(total,)] = cur.sql("SELECT count(*) FROM equity").fetchall()
    if total <= max_points:
        return _frame(cur, f"SELECT {columns} FROM equity ORDER BY ts, recorded_at")
    kept = _extreme_rowids(cur, table="equity", ts="ts", value="equity", buckets=(max_points - 1) // 2)
    return _frame(cur, f"SELECT {columns} FROM equity WHERE rowid = ANY($kept) ORDER BY ts, recorded_at", {"kept": kept})


def open_positions(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Open positions: per symbol, the latest ``positions`` row (by ``recorded_at``) when its quantity is > 0.

    Returns:
        One row per open symbol, by symbol: ``symbol``, ``quantity`` (base asset), ``avg_entry``, ``stop_price``,
        ``target_price`` (quote asset, floats; stop/target NaN when unset) and ``opened`` (UTC market time of the
        first row after the symbol was last flat).
    """
    return _frame(
        cur,
        """
        WITH marked AS (
            SELECT *, max(recorded_at) FILTER (WHERE quantity = 0) OVER (PARTITION BY symbol) AS last_flat
            FROM positions
        )
        SELECT symbol,
               arg_max(quantity, recorded_at)::DOUBLE AS quantity,
               arg_max(avg_entry, recorded_at)::DOUBLE AS avg_entry,
               arg_max_null(stop_price, recorded_at)::DOUBLE AS stop_price,
               arg_max_null(target_price, recorded_at)::DOUBLE AS target_price,
               min(ts) AS opened
        FROM marked
        WHERE last_flat IS NULL OR recorded_at > last_flat
        GROUP BY symbol
        HAVING arg_max(quantity, recorded_at) > 0
        ORDER BY symbol
        """,
    )


def recent_trades(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` closed trades, newest exit first.

    Returns:
        ``symbol``, ``entry_time``, ``exit_time`` (UTC), ``quantity``, ``entry_price``, ``exit_price``, ``fees``,
        ``pnl`` (floats, quote asset; pnl net of fees), ``pnl_pct`` (percent), ``exit_reason``.
    """
    return _frame(
        cur,
        """
        SELECT symbol, entry_time, exit_time, quantity::DOUBLE AS quantity, entry_price::DOUBLE AS entry_price,
               exit_price::DOUBLE AS exit_price, fees::DOUBLE AS fees, pnl::DOUBLE AS pnl, pnl_pct, exit_reason
        FROM trades ORDER BY exit_time DESC, recorded_at DESC LIMIT $limit
        """,
        {"limit": _limit(limit)},
    )


def recent_commands(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` entries of the audit log, newest first.

    Returns:
        ``ts`` (UTC wall time the engine applied it), ``command``, ``actor``, ``reason``, ``result``, ``detail``.
    """
    return _frame(
        cur,
        "SELECT ts, command, actor, reason, result, detail FROM commands "
        "ORDER BY ts DESC, recorded_at DESC LIMIT $limit",
        {"limit": _limit(limit)},
    )


def recent_fills(cur: duckdb.DuckDBPyConnection, *, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` fills, newest first.

    Returns:
        ``ts`` (UTC market time), ``symbol``, ``side``, ``quantity`` (base asset), ``price``, ``quote_qty``,
        ``fee``, ``reference_price`` (quote asset, floats), ``order_id``, ``fill_id``.
    """
    return _frame(
        cur,
        """
        SELECT ts, symbol, side, quantity::DOUBLE AS quantity, price::DOUBLE AS price,
               quote_qty::DOUBLE AS quote_qty, fee::DOUBLE AS fee, reference_price::DOUBLE AS reference_price,
               order_id, fill_id
        FROM fills ORDER BY ts DESC, recorded_at DESC LIMIT $limit
        """,
        {"limit": _limit(limit)},
    )


def table_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every history table (those with a ``recorded_at`` column), by table name."""
    tables = [
        name
        for (name,) in cur.sql(
            "SELECT table_name FROM information_schema.columns WHERE table_catalog = current_database() "
            "AND table_schema = 'main' AND column_name = 'recorded_at' ORDER BY table_name"
        ).fetchall()
    ]
    if not tables:
        return {}
    union = " UNION ALL ".join(f"SELECT '{name}' AS name, count(*) AS n FROM \"{name}\"" for name in tables)
    return {name: int(count) for name, count in cur.sql(union).fetchall()}


def _extreme_rowids(
    cur: duckdb.DuckDBPyConnection,
    *,
    table: str,
    ts: str,
    value: str,
    buckets: int,
    where: str = "TRUE",
    params: dict[str, Any] | None = None,
) -> list[int]:
    """Min/max downsampling: the rowids of the lowest and highest ``value`` in each of ``buckets`` equal slices
    of the ``ts`` span (rows matching ``where``), plus the newest row (by ``ts``, then ``recorded_at``).

    One aggregation pass over two columns (epoch-integer buckets, rowids rather than whole rows); the caller
    fetches the kept rows with ``rowid = ANY($kept)``. ``table``, ``ts``, ``value`` and ``where`` are trusted SQL.
    """
    params = params or {}
    [(lo, hi)] = cur.sql(f"SELECT epoch_us(min({ts})), epoch_us(max({ts})) FROM {table} WHERE {where}", params=params).fetchall()
    if lo is None:
        return []
    pairs = cur.sql(
        f"""
        SELECT arg_min(rowid, {value}), arg_max(rowid, {value}) FROM {table} WHERE {where}
        GROUP BY (epoch_us({ts}) - $lo) * $buckets // $width
        UNION ALL (SELECT rowid, rowid FROM {table} WHERE {where} ORDER BY {ts} DESC, recorded_at DESC LIMIT 1)
        """,
        params=params | {"lo": lo, "buckets": buckets, "width": hi - lo + 1},
    ).fetchall()
    return sorted({rowid for pair in pairs for rowid in pair})


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return limit


def _arrow(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    return cur.sql(sql, params=params).to_arrow_table()


def _frame(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """``sql`` as a DataFrame with every timestamp column converted to UTC (whatever the session time zone)."""
    frame = _arrow(cur, sql, params).to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert(UTC)
    return frame


# ---------------------------------------------------------------------------------------------------- guards

BREAKER_HISTORY_COLUMNS = (
    "ts", "kind", "state_from", "state_to", "equity", "daily_loss_pct", "drawdown_pct", "reason", "actor",
)
BREAKER_GAUGE_COLUMNS = ("ts", "equity", "day_start_equity", "peak_equity", "daily_loss_pct", "drawdown_pct")
RATE_LIMIT_COLUMNS = ("ts", "host", "used_weight", "server_used_weight", "weight_limit", "utilisation_pct")
RETRY_COUNT_COLUMNS = ("ts", "width_s", "endpoint", "reason", "calls")
WS_EVENT_COLUMNS = ("ts", "event", "url", "code", "reason", "retry_in_s", "attempt", "candles")
WS_SPAN_COLUMNS = ("start", "end", "state", "events", "reconnect")
GAP_COLUMNS = (
    "symbol", "kind", "first_open_time", "last_open_time", "candles", "state", "opened_at", "closed_at", "attempts",
    "last_error", "detail",
)
DAILY_PNL_COLUMNS = ("day", "start_equity", "end_equity", "pnl", "pnl_pct")
PRICE_COLUMNS = ("ts", "close")
TRADE_MARKER_COLUMNS = ("ts", "side", "kind", "price", "quantity")

_BUCKET_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
"""Retry-chart bucket widths (seconds) to choose from; beyond a day, whole days."""


def breaker_history(cur: duckdb.DuckDBPyConnection, *, limit: int = 50) -> pd.DataFrame:
    """The last ``limit`` portfolio-breaker transitions (trips, resets, warnings), newest first.

    Ordered by ``recorded_at`` (the order they happened; ``ts`` mixes market time and the wall time of resets).

    Returns:
        ``ts`` (UTC), ``kind`` (WarningTriggered, BreakerTripped, BreakerReset ...), ``state_from``, ``state_to``,
        ``equity`` (quote asset), ``daily_loss_pct``, ``drawdown_pct`` (percent), ``reason``, ``actor``.
    """
    return _frame(
        cur,
        f"SELECT {', '.join(BREAKER_HISTORY_COLUMNS)} FROM breaker_events "
        "ORDER BY recorded_at DESC, ts DESC LIMIT $limit",
        {"limit": _limit(limit)},
    )


def breaker_gauges(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What the portfolio breaker measures, from the newest ``equity`` snapshot: one row, or none before the first.

    ``daily_loss_pct`` = max(0, (day_start_equity − equity) / day_start_equity × 100); ``drawdown_pct`` as stored
    ((peak − equity) / peak × 100). Both in percent, ≥ 0 (``../shared/SPEC.md`` §3.1).

    Returns:
        ``ts`` (UTC market time), ``equity``, ``day_start_equity``, ``peak_equity`` (quote asset),
        ``daily_loss_pct``, ``drawdown_pct``.
    """
    return _frame(
        cur,
        """
        SELECT ts, equity, day_start_equity, peak_equity,
               greatest(0.0, (day_start_equity - equity) / nullif(day_start_equity, 0) * 100) AS daily_loss_pct,
               drawdown_pct
        FROM equity ORDER BY ts DESC, recorded_at DESC LIMIT 1
        """,
    )


def rate_limit_series(cur: duckdb.DuckDBPyConnection, *, max_points: int = 2000) -> pd.DataFrame:
    """REST request-weight usage over wall time, per host, at most ``max_points`` rows per host.

    Up to ``max_points`` samples in all are returned as they are. Beyond that, the time span is cut into
    ``max_points`` equal buckets and each (host, bucket) keeps the **maximum** of every column (peaks survive),
    stamped with the time of its highest utilisation.

    Returns:
        Ascending by ``ts`` (UTC wall time): ``ts``, ``host``, ``used_weight`` (local view),
        ``server_used_weight`` (``X-MBX-USED-WEIGHT-1M``, NaN when unknown), ``weight_limit`` (per minute),
        ``utilisation_pct`` (percent of the limit).

    Raises:
        ValueError: ``max_points`` < 1.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    columns = ", ".join(RATE_LIMIT_COLUMNS)
    [(total,)] = cur.sql("SELECT count(*) FROM rate_limit_samples").fetchall()
    if total <= max_points:
        return _frame(cur, f"SELECT {columns} FROM rate_limit_samples ORDER BY ts, host")
    return _frame(
        cur,
        """
        WITH span AS (SELECT epoch_us(min(ts)) AS lo, epoch_us(max(ts)) AS hi FROM rate_limit_samples)
        SELECT arg_max(ts, utilisation_pct) AS ts, host,
               max(used_weight) AS used_weight, max(server_used_weight) AS server_used_weight,
               max(weight_limit) AS weight_limit, max(utilisation_pct) AS utilisation_pct
        FROM rate_limit_samples, span
        GROUP BY host, (epoch_us(ts) - lo) * $buckets // (hi - lo + 1)
        ORDER BY ts, host
        """,
        {"buckets": max_points},
    )


def retry_counts(cur: duckdb.DuckDBPyConnection, *, buckets: int = 60) -> pd.DataFrame:
    """Failed REST attempts (``api_calls`` with outcome other than ``ok``) per time bucket, endpoint and reason.

    The bucket width is the smallest of 1 s, 2 s, 5 s … 1 h … 1 day (then whole days) that covers the span of the
    failures in at most ``buckets`` buckets; buckets are aligned to the Unix epoch and only non-empty ones appear.

    Returns:
        Ascending by ``ts``: ``ts`` (UTC start of the bucket), ``width_s`` (bucket width, seconds), ``endpoint``,
        ``reason`` (429, 5xx, timeout, connection, 418 ...), ``calls`` (attempts).

    Raises:
        ValueError: ``buckets`` < 2.
    """
    if buckets < 2:
        raise ValueError(f"buckets must be at least 2, got {buckets}")
    [(lo, hi)] = cur.sql("SELECT min(epoch_us(ts)), max(epoch_us(ts)) FROM api_calls WHERE outcome <> 'ok'").fetchall()
    width_s = _bucket_width_s(0 if lo is None else (hi - lo) / 1e6, buckets=buckets)
    return _frame(
        cur,
        """
        SELECT make_timestamptz(bucket * $width_us) AS ts, $width_s::DOUBLE AS width_s, endpoint, reason,
               count(*) AS calls
        FROM (SELECT epoch_us(ts) // $width_us AS bucket, endpoint, reason FROM api_calls WHERE outcome <> 'ok')
        GROUP BY ALL ORDER BY ts, endpoint, reason
        """,
        {"width_us": width_s * 1_000_000, "width_s": width_s},
    )


def _bucket_width_s(span_s: float, *, buckets: int) -> int:
    """The smallest step of :data:`_BUCKET_STEPS_S` (or whole days) with ``span_s / step + 1 <= buckets``."""
    needed = span_s / (buckets - 1)
    for step in _BUCKET_STEPS_S:
        if step >= needed:
            return step
    return 86_400 * -(-int(needed) // 86_400)


def api_call_totals(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every REST attempt counted by endpoint, outcome and reason, most frequent first.

    Returns:
        ``endpoint``, ``outcome`` (ok, retry, giveup, banned, breaker_open), ``reason``, ``calls``,
        ``avg_latency_ms`` (NaN when no attempt got an answer), ``last_ts`` (UTC wall time of the latest).
    """
    return _frame(
        cur,
        """
        SELECT endpoint, outcome, reason, count(*) AS calls, avg(latency_ms) AS avg_latency_ms, max(ts) AS last_ts
        FROM api_calls GROUP BY ALL ORDER BY calls DESC, endpoint, outcome, reason
        """,
    )


def api_breaker_states(cur: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> pd.DataFrame:
    """Per host, the newest ``rate_limit_samples`` row: API failure-breaker state and HTTP 418 ban.

    Args:
        now: the wall time the ban countdown is measured from (aware); ``None`` = the database's ``now()``.

    Returns:
        One row per host, by host: ``host``, ``ts`` (UTC wall time of the sample), ``api_breaker``
        (CLOSED, OPEN, HALF_OPEN), ``banned_until`` (UTC, NaT when no ban), ``ban_left_s`` (seconds of the ban
        still to run at ``now``, 0 when none), ``used_weight``, ``weight_limit``, ``utilisation_pct``.
    """
    return _frame(
        cur,
        """
        SELECT host, ts, api_breaker, banned_until,
               greatest(0.0, coalesce(epoch(banned_until) - epoch(coalesce($now::TIMESTAMPTZ, now())), 0.0))
                   AS ban_left_s,
               used_weight, weight_limit, utilisation_pct
        FROM rate_limit_samples
        WHERE rowid IN (SELECT arg_max(rowid, ts) FROM rate_limit_samples GROUP BY host)
        ORDER BY host
        """,
        {"now": now},
    )


def ws_timeline(cur: duckdb.DuckDBPyConnection, *, limit: int = 500) -> pd.DataFrame:
    """The last ``limit`` WebSocket events (CONNECTED, DISCONNECTED, BACKFILL, BAD_MESSAGE), newest first.

    Returns:
        ``ts`` (UTC wall time), ``event``, ``url``, ``code`` (close code, NaN without a close frame), ``reason``,
        ``retry_in_s`` (backoff before the next connect, seconds), ``attempt``, ``candles`` (BACKFILL: candles
        fetched over REST).
    """
    return _frame(
        cur,
        f"SELECT {', '.join(WS_EVENT_COLUMNS)} FROM ws_events ORDER BY ts DESC, recorded_at DESC LIMIT $limit",
        {"limit": _limit(limit)},
    )


def ws_event_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Totals over the whole history: ``connects``, ``reconnects`` (CONNECTED after at least one retry:
    ``attempt`` > 0), ``disconnects``, ``bad_messages``, ``backfills`` (events) and ``backfilled_candles``
    (candles fetched over REST by those backfills)."""
    [row] = cur.sql(
        """
        SELECT count(*) FILTER (WHERE event = 'CONNECTED'), count(*) FILTER (WHERE event = 'CONNECTED' AND attempt > 0),
               count(*) FILTER (WHERE event = 'DISCONNECTED'),
               count(*) FILTER (WHERE event = 'BAD_MESSAGE'), count(*) FILTER (WHERE event = 'BACKFILL'),
               coalesce(sum(candles) FILTER (WHERE event = 'BACKFILL'), 0)
        FROM ws_events
        """
    ).fetchall()
    keys = ("connects", "reconnects", "disconnects", "bad_messages", "backfills", "backfilled_candles")
    return {key: int(value) for key, value in zip(keys, row, strict=True)}


def ws_spans(cur: duckdb.DuckDBPyConnection, *, now: datetime | None = None, limit: int = 2000) -> pd.DataFrame:
    """The market stream's last ``limit`` connected / disconnected periods, for a timeline chart.

    A span starts at a CONNECTED or DISCONNECTED event whose state differs from the previous one (repeated failed
    connects stay one ``disconnected`` span) and ends where the next span starts; the last span ends at ``now``.
    Every URL counts as the one market connection (the simulator's port changes across restarts).

    Args:
        now: end of the current span (aware wall time); ``None`` = the database's ``now()``.

    Returns:
        Ascending: ``start``, ``end`` (UTC wall time), ``state`` (``connected`` | ``disconnected``), ``events``
        (CONNECTED/DISCONNECTED events in the span), ``reconnect`` (a connected span that follows a disconnected one).
    """
    return _frame(
        cur,
        """
        WITH changes AS (
            SELECT ts, recorded_at, lower(event) AS state,
                   lower(event) IS DISTINCT FROM lag(lower(event)) OVER w AS starts
            FROM ws_events WHERE event IN ('CONNECTED', 'DISCONNECTED')
            WINDOW w AS (ORDER BY ts, recorded_at)
        ),
        numbered AS (SELECT *, sum(starts::INTEGER) OVER (ORDER BY ts, recorded_at) AS span FROM changes),
        spans AS (SELECT span, min(ts) AS start, any_value(state) AS state, count(*) AS events FROM numbered GROUP BY span)
        SELECT start,
               greatest(start, coalesce(lead(start) OVER w, $now::TIMESTAMPTZ, now())) AS "end",
               state, events,
               state = 'connected' AND lag(state) OVER w = 'disconnected' AS reconnect
        FROM spans WINDOW w AS (ORDER BY span) ORDER BY span DESC LIMIT $limit
        """,
        {"now": now, "limit": _limit(limit)},
    ).iloc[::-1].reset_index(drop=True).astype({"reconnect": bool})


def gap_history(cur: duckdb.DuckDBPyConnection, *, limit: int = 50) -> pd.DataFrame:
    """The last ``limit`` gaps of the ledger (table ``gaps``), each in its latest state, newest first.

    Returns:
        Columns ``symbol``, ``kind`` (warmup | gap), ``first_open_time`` and ``last_open_time`` (market time, UTC),
        ``candles``, ``state`` (OPEN | CLOSED), ``opened_at`` and ``closed_at`` (wall time, UTC; ``NaT`` while
        open), ``attempts`` (failed backfill requests), ``last_error``, ``detail``.

    Raises:
        ValueError: ``limit`` < 1.
    """
    columns = ", ".join(f"arg_max({c}, recorded_at) AS {c}" for c in GAP_COLUMNS)
    return _frame(
        cur,
        f"SELECT * EXCLUDE (gap_id) FROM (SELECT gap_id, {columns} FROM gaps GROUP BY gap_id) "
        "ORDER BY opened_at DESC, first_open_time DESC LIMIT $limit",
        {"limit": _limit(limit)},
    )


def denials_by_reason(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pre-trade risk denials counted by stable reason code, most frequent first.

    Returns:
        ``reason_code`` (INVALID_PRICE, STOP_TOO_TIGHT, MAX_POSITIONS ...), ``denials``, ``last_ts`` (UTC market time).
    """
    return _frame(
        cur,
        "SELECT reason_code, count(*) AS denials, max(ts) AS last_ts FROM risk_denials "
        "GROUP BY reason_code ORDER BY denials DESC, reason_code",
    )


# ---------------------------------------------------------------------------------------------------- overview


def daily_pnl(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """P&L per UTC market day, from the ``equity`` snapshots.

    ``start_equity`` is the ``day_start_equity`` of the day's first snapshot (equity at 00:00 UTC, before any
    breaker reset re-bases it), ``end_equity`` the day's last equity; ``pnl`` = end − start. Days are cut on
    epoch integers (``date_trunc`` on TIMESTAMPTZ goes through ICU and is ~20× slower on long runs), and the
    two snapshots per day are found by their ``ts`` before ``arg_min``/``arg_max`` run on those few rows.

    Returns:
        Ascending: ``day`` (UTC midnight), ``start_equity``, ``end_equity``, ``pnl`` (quote asset), ``pnl_pct``
        (percent of ``start_equity``).
    """
    return _frame(
        cur,
        """
        WITH days AS (
            SELECT epoch_us(ts) // 86400000000 AS day, min(ts) AS first_ts, max(ts) AS last_ts FROM equity GROUP BY day
        )
        SELECT make_timestamptz(day * 86400000000) AS day, start_equity, end_equity,
               end_equity - start_equity AS pnl, (end_equity - start_equity) / nullif(start_equity, 0) * 100 AS pnl_pct
        FROM (
            SELECT epoch_us(ts) // 86400000000 AS day,
                   arg_min(day_start_equity, (ts, recorded_at)) AS start_equity,
                   arg_max(equity, (ts, recorded_at)) AS end_equity
            FROM equity
            WHERE ts IN (SELECT first_ts FROM days UNION ALL SELECT last_ts FROM days)
            GROUP BY day
        )
        ORDER BY day
        """,
    )


def price_series(cur: duckdb.DuckDBPyConnection, symbol: str, *, max_points: int = 2000) -> pd.DataFrame:
    """Close prices of ``symbol`` at candle close time, at most ``max_points`` rows, for the price chart.

    Up to ``max_points`` candles are returned as they are. Beyond that, the time span is cut into
    ``(max_points - 1) // 2`` equal buckets, each keeping its lowest and highest close, plus the latest candle.

    Returns:
        Ascending: ``ts`` (UTC market time of the candle close), ``close`` (quote asset).

    Raises:
        ValueError: ``max_points`` < 3.
    """
    if max_points < 3:
        raise ValueError(f"max_points must be at least 3, got {max_points}")
    params = {"symbol": symbol}
    [(total,)] = cur.sql("SELECT count(*) FROM candles WHERE symbol = $symbol", params=params).fetchall()
    if total <= max_points:
        return _frame(
            cur, "SELECT close_time AS ts, close FROM candles WHERE symbol = $symbol ORDER BY ts, recorded_at", params
        )
    kept = _extreme_rowids(
        cur, table="candles", ts="close_time", value="close", where="symbol = $symbol", params=params,
        buckets=(max_points - 1) // 2,
    )
    return _frame(
        cur, "SELECT close_time AS ts, close FROM candles WHERE rowid = ANY($kept) ORDER BY ts, recorded_at", {"kept": kept}
    )


def trade_markers(cur: duckdb.DuckDBPyConnection, symbol: str, *, limit: int = 2000) -> pd.DataFrame:
    """The last ``limit`` fills of ``symbol`` as chart markers (spot long-only: BUY opens, SELL closes).

    Returns:
        Ascending by ``ts`` (UTC market time): ``ts``, ``side`` (BUY | SELL), ``kind`` (``entry`` | ``exit``),
        ``price`` (quote asset), ``quantity`` (base asset), both floats.
    """
    return _frame(
        cur,
        """
        SELECT * FROM (
            SELECT ts, side, CASE side WHEN 'BUY' THEN 'entry' ELSE 'exit' END AS kind,
                   price::DOUBLE AS price, quantity::DOUBLE AS quantity
            FROM fills WHERE symbol = $symbol ORDER BY ts DESC, recorded_at DESC LIMIT $limit
        ) ORDER BY ts
        """,
        {"symbol": symbol, "limit": _limit(limit)},
    )
