"""Read-only queries for the dashboard's Guards page: the portfolio breaker, the REST rate limit, retries and the
API breaker, the market stream's connection, the gap ledger and pre-trade risk denials.

Every function takes a cursor of the calling thread (:meth:`storage.store.Store.cursor`) and returns:

* timestamps as tz-aware UTC (``datetime64[us, UTC]`` columns, or aware ``datetime`` in dicts);
* money as ``float`` in display frames (exact ``Decimal`` stays in the database); percentages in percent;
* an empty frame with the same columns when there is no data.

Queries run as relations (``cur.sql``) read through Arrow (:mod:`storage.frames`). Long series are downsampled in
SQL, never in Python (``../shared/SPEC.md`` §5).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd

from storage.frames import check_limit, frame

BREAKER_HISTORY_COLUMNS = (
    "ts", "kind", "state_from", "state_to", "equity", "daily_loss_pct", "drawdown_pct", "reason", "actor", "recorded_at",
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

_BUCKET_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
"""Retry-chart bucket widths (seconds) to choose from; beyond a day, whole days."""


def breaker_history(cur: duckdb.DuckDBPyConnection, *, limit: int = 50) -> pd.DataFrame:
    """The last ``limit`` portfolio-breaker transitions (trips, resets, warnings), newest first.

    Ordered by ``recorded_at`` (the order they happened; ``ts`` mixes market time and the wall time of resets).

    Returns:
        ``ts`` (UTC), ``kind`` (WarningTriggered, BreakerTripped, BreakerReset ...), ``state_from``, ``state_to``,
        ``equity`` (quote asset), ``daily_loss_pct``, ``drawdown_pct`` (percent), ``reason``, ``actor``,
        ``recorded_at`` (UTC wall time it was written).
    """
    return frame(
        cur,
        f"SELECT {', '.join(BREAKER_HISTORY_COLUMNS)} FROM breaker_events "
        "ORDER BY recorded_at DESC, ts DESC LIMIT $limit",
        {"limit": check_limit(limit)},
    )


def breaker_gauges(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What the portfolio breaker measures, from the newest ``equity`` snapshot: one row, or none before the first.

    ``daily_loss_pct`` = max(0, (day_start_equity − equity) / day_start_equity × 100); ``drawdown_pct`` as stored
    ((peak − equity) / peak × 100). Both in percent, ≥ 0 (``../shared/SPEC.md`` §3.1).

    Returns:
        ``ts`` (UTC market time), ``equity``, ``day_start_equity``, ``peak_equity`` (quote asset),
        ``daily_loss_pct``, ``drawdown_pct``.
    """
    return frame(
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
    [(total, lo, hi)] = cur.sql("SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM rate_limit_samples").fetchall()
    if total <= max_points:
        return frame(cur, f"SELECT {columns} FROM rate_limit_samples ORDER BY ts, host")
    return frame(
        cur,
        """
        SELECT arg_max(ts, utilisation_pct) AS ts, host,
               max(used_weight) AS used_weight, max(server_used_weight) AS server_used_weight,
               max(weight_limit) AS weight_limit, max(utilisation_pct) AS utilisation_pct
        FROM rate_limit_samples
        GROUP BY host, (epoch_us(ts) - $lo) * $buckets // $span
        ORDER BY ts, host
        """,
        {"lo": lo, "buckets": max_points, "span": hi - lo + 1},
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
    return frame(
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
    return frame(
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
    return frame(
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
    return frame(
        cur,
        f"SELECT {', '.join(WS_EVENT_COLUMNS)} FROM ws_events ORDER BY ts DESC, recorded_at DESC LIMIT $limit",
        {"limit": check_limit(limit)},
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
    return frame(
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
        {"now": now, "limit": check_limit(limit)},
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
    return frame(
        cur,
        f"SELECT * EXCLUDE (gap_id) FROM (SELECT gap_id, {columns} FROM gaps GROUP BY gap_id) "
        "ORDER BY opened_at DESC, first_open_time DESC LIMIT $limit",
        {"limit": check_limit(limit)},
    )


def denials_by_reason(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Pre-trade risk denials counted by stable reason code, most frequent first.

    Returns:
        ``reason_code`` (INVALID_PRICE, STOP_TOO_TIGHT, MAX_POSITIONS ...), ``denials``, ``last_ts`` (UTC market time).
    """
    return frame(
        cur,
        "SELECT reason_code, count(*) AS denials, max(ts) AS last_ts FROM risk_denials "
        "GROUP BY reason_code ORDER BY denials DESC, reason_code",
    )
