"""DuckDB schema and migrations.

Every table but the two rollups is append-only history. Conventions:

* ``*_time`` / ``ts`` columns are ``TIMESTAMPTZ`` in UTC. ``ts``/``*_time`` is **market time** (from candles)
  unless the column is ``recorded_at``, which is the wall-clock time the row was written.
* Money and quantities are ``DECIMAL(38, 8)`` (v4 made the ``equity`` and ``breaker_events`` amounts exact too);
  chart series (candle prices, percentages) are ``DOUBLE``.
* Percentages are in percent (``5.0`` = 5 %).
* The two ``*_rollup`` tables (v5) are not history but summaries of it, kept up to date by the Recorder inside its
  flushes' transactions (:mod:`storage.rollups`).

``MIGRATIONS[i]`` brings the database from version ``i`` to ``i + 1``; :func:`migrate` applies the missing ones
in one transaction each and records them in ``schema_version``. Never edit a released migration: append one.
The column documentation for users lives in ``docs/schema.md``.
"""

from __future__ import annotations

import duckdb

from storage import rollups
from storage.errors import SchemaVersionError

MONEY = "DECIMAL(38, 8)"

_V1 = f"""
CREATE TABLE candles (
    symbol        VARCHAR NOT NULL,
    interval      VARCHAR NOT NULL,
    open_time     TIMESTAMPTZ NOT NULL,
    close_time    TIMESTAMPTZ NOT NULL,
    open          DOUBLE NOT NULL,
    high          DOUBLE NOT NULL,
    low           DOUBLE NOT NULL,
    close         DOUBLE NOT NULL,
    volume        DOUBLE NOT NULL,
    source        VARCHAR NOT NULL,      -- bootstrap | stream | backfill
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE equity (
    ts                 TIMESTAMPTZ NOT NULL,  -- market time of the mark (candle close)
    equity             DOUBLE NOT NULL,       -- cash + sum(quantity * mark), quote asset
    cash               DOUBLE NOT NULL,
    positions_value    DOUBLE NOT NULL,
    realised_pnl       DOUBLE NOT NULL,       -- cumulative, net of fees
    unrealised_pnl     DOUBLE NOT NULL,       -- open positions at mark, net of entry fees
    peak_equity        DOUBLE NOT NULL,
    drawdown_pct       DOUBLE NOT NULL,       -- (peak - equity) / peak * 100
    day_start_equity   DOUBLE NOT NULL,       -- equity at 00:00 UTC of the market day
    daily_pnl_pct      DOUBLE NOT NULL,       -- (equity - day_start) / day_start * 100
    recorded_at        TIMESTAMPTZ NOT NULL
);
CREATE TABLE orders (
    order_id      VARCHAR NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    symbol        VARCHAR NOT NULL,
    side          VARCHAR NOT NULL,      -- BUY | SELL
    type          VARCHAR NOT NULL,      -- MARKET
    quantity      {MONEY} NOT NULL,
    status        VARCHAR NOT NULL,      -- NEW | FILLED | REJECTED | CANCELLED (one row per change)
    reason        VARCHAR NOT NULL,      -- why it was sent, or why it was rejected
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE fills (
    fill_id          VARCHAR NOT NULL,
    order_id         VARCHAR NOT NULL,
    ts               TIMESTAMPTZ NOT NULL,
    symbol           VARCHAR NOT NULL,
    side             VARCHAR NOT NULL,
    price            {MONEY} NOT NULL,
    quantity         {MONEY} NOT NULL,
    quote_qty        {MONEY} NOT NULL,   -- price * quantity
    fee              {MONEY} NOT NULL,   -- taker fee, quote asset
    reference_price  {MONEY} NOT NULL,   -- the price before slippage
    recorded_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE trades (
    trade_id      VARCHAR NOT NULL,
    symbol        VARCHAR NOT NULL,
    entry_time    TIMESTAMPTZ NOT NULL,
    exit_time     TIMESTAMPTZ NOT NULL,
    quantity      {MONEY} NOT NULL,
    entry_price   {MONEY} NOT NULL,
    exit_price    {MONEY} NOT NULL,
    fees          {MONEY} NOT NULL,      -- entry + exit fee
    pnl           {MONEY} NOT NULL,      -- net of fees
    pnl_pct       DOUBLE NOT NULL,       -- pnl / entry cost * 100
    exit_reason   VARCHAR NOT NULL,      -- STOP | TARGET | SIGNAL | FLATTEN
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE positions (
    ts            TIMESTAMPTZ NOT NULL,  -- one row per change; quantity 0 = closed
    symbol        VARCHAR NOT NULL,
    quantity      {MONEY} NOT NULL,
    avg_entry     {MONEY} NOT NULL,
    cost_basis    {MONEY} NOT NULL,      -- quantity * avg_entry + entry fees
    stop_price    {MONEY},
    target_price  {MONEY},
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE commands (
    ts            TIMESTAMPTZ NOT NULL,  -- wall time the engine applied it
    command       VARCHAR NOT NULL,      -- PAUSE | RESUME | ...
    actor         VARCHAR NOT NULL,      -- who: dashboard, cli, test ...
    reason        VARCHAR NOT NULL,
    result        VARCHAR NOT NULL,      -- OK | IGNORED | REFUSED
    detail        VARCHAR NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
"""

_V2 = """
CREATE TABLE breaker_events (
    ts              TIMESTAMPTZ NOT NULL,  -- market time of the mark (or wall time of a manual reset)
    kind            VARCHAR NOT NULL,      -- WarningTriggered | WarningCleared | BreakerTripped | BreakerReset
    state_from      VARCHAR NOT NULL,      -- ACTIVE | WARNING | TRIPPED | DISABLED
    state_to        VARCHAR NOT NULL,
    equity          DOUBLE NOT NULL,       -- quote asset, at that moment
    daily_loss_pct  DOUBLE NOT NULL,       -- loss vs equity at 00:00 UTC (market time), percent, >= 0
    drawdown_pct    DOUBLE NOT NULL,       -- below peak equity, percent
    reason          VARCHAR NOT NULL,
    actor           VARCHAR NOT NULL,      -- engine, or who reset it
    recorded_at     TIMESTAMPTZ NOT NULL
);
CREATE TABLE risk_denials (
    ts            TIMESTAMPTZ NOT NULL,    -- market time of the decision
    symbol        VARCHAR,                 -- NULL when the bad input named no symbol
    reason_code   VARCHAR NOT NULL,        -- stable code: INVALID_PRICE, STOP_TOO_TIGHT, MAX_POSITIONS, ...
    detail        VARCHAR NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE api_calls (
    ts            TIMESTAMPTZ NOT NULL,    -- wall time the attempt ended
    host          VARCHAR NOT NULL,
    endpoint      VARCHAR NOT NULL,        -- e.g. /api/v3/klines
    status        INTEGER,                 -- HTTP status; NULL when no answer (timeout, connection error)
    latency_ms    DOUBLE,
    attempt       INTEGER NOT NULL,        -- 0 = first try
    delay_s       DOUBLE,                  -- backoff before the next attempt; NULL when none follows
    outcome       VARCHAR NOT NULL,        -- ok | retry | giveup | banned | breaker_open
    reason        VARCHAR NOT NULL,        -- ok, 429, 418, 5xx, timeout, connection, 400 ...
    recorded_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE rate_limit_samples (
    ts                  TIMESTAMPTZ NOT NULL,  -- wall time, sampled at least every second
    host                VARCHAR NOT NULL,
    used_weight         INTEGER NOT NULL,      -- local view of REQUEST_WEIGHT used this minute
    server_used_weight  INTEGER,               -- last X-MBX-USED-WEIGHT-1M
    weight_limit        INTEGER NOT NULL,
    utilisation_pct     DOUBLE NOT NULL,
    waiting             INTEGER NOT NULL,      -- requests waiting for tokens
    wait_s              DOUBLE NOT NULL,       -- total seconds waited so far
    api_breaker         VARCHAR NOT NULL,      -- CLOSED | OPEN | HALF_OPEN
    banned_until        TIMESTAMPTZ,           -- end of an HTTP 418 ban, NULL when none
    recorded_at         TIMESTAMPTZ NOT NULL
);
CREATE TABLE ws_events (
    ts            TIMESTAMPTZ NOT NULL,    -- wall time
    event         VARCHAR NOT NULL,        -- CONNECTED | DISCONNECTED | BACKFILL | BAD_MESSAGE
    url           VARCHAR NOT NULL,
    code          INTEGER,                 -- close code, when there was a close frame
    reason        VARCHAR NOT NULL,
    retry_in_s    DOUBLE,                  -- backoff before the next connect
    attempt       INTEGER NOT NULL,
    candles       INTEGER,                 -- BACKFILL: candles fetched over REST
    recorded_at   TIMESTAMPTZ NOT NULL
);
"""

_V3 = """
ALTER TABLE commands ADD COLUMN command_id VARCHAR;    -- the Command's id: a page reads its own command's result
ALTER TABLE equity ADD COLUMN symbol VARCHAR;          -- whose price marked the account; NULL for a breaker reset
ALTER TABLE equity ADD COLUMN source VARCHAR;          -- candle (a close) | price (in-progress kline) | reset
CREATE TABLE gaps (
    gap_id            VARCHAR NOT NULL,      -- one gap, several rows: one per change, the latest is current
    symbol            VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,      -- warmup (history a new symbol needs) | gap (missed minutes)
    first_open_time   TIMESTAMPTZ NOT NULL,  -- market time: open of the first missing candle
    last_open_time    TIMESTAMPTZ NOT NULL,  -- market time: open of the last missing candle
    candles           INTEGER NOT NULL,      -- candles the gap spans
    state             VARCHAR NOT NULL,      -- OPEN | CLOSED (every candle processed)
    opened_at         TIMESTAMPTZ NOT NULL,  -- wall time it was found
    closed_at         TIMESTAMPTZ,           -- wall time it closed; NULL while open
    attempts          INTEGER NOT NULL,      -- failed backfill requests so far
    last_error        VARCHAR NOT NULL,      -- the latest failure ('' when none)
    detail            VARCHAR NOT NULL,      -- how it closed: filled, minutes the venue has no candle for ...
    recorded_at       TIMESTAMPTZ NOT NULL
);
"""

_V4 = f"""
ALTER TABLE equity ALTER COLUMN equity TYPE {MONEY};
ALTER TABLE equity ALTER COLUMN cash TYPE {MONEY};
ALTER TABLE equity ALTER COLUMN positions_value TYPE {MONEY};
ALTER TABLE equity ALTER COLUMN realised_pnl TYPE {MONEY};
ALTER TABLE equity ALTER COLUMN unrealised_pnl TYPE {MONEY};
ALTER TABLE equity ALTER COLUMN peak_equity TYPE {MONEY};
ALTER TABLE equity ALTER COLUMN day_start_equity TYPE {MONEY};
ALTER TABLE equity ADD COLUMN candle_open_time TIMESTAMPTZ;   -- the candle whose close/update/fill marked it
ALTER TABLE equity ADD COLUMN price {MONEY};                  -- the symbol's mark then (NULL for a reset)
ALTER TABLE breaker_events ALTER COLUMN equity TYPE {MONEY};
ALTER TABLE breaker_events ADD COLUMN day_start_equity {MONEY};  -- the baselines the transition was judged on
ALTER TABLE breaker_events ADD COLUMN peak_equity {MONEY};
ALTER TABLE orders ADD COLUMN equity {MONEY};                 -- entries: the account at the signal (NEW) / fill
ALTER TABLE orders ADD COLUMN risk_amount {MONEY};            -- entries: what the stop may lose
ALTER TABLE orders ADD COLUMN atr DOUBLE;                     -- entries: ATR at the signal, price units
ALTER TABLE orders ADD COLUMN stop_distance {MONEY};          -- entries: multiple x ATR, price units
ALTER TABLE orders ADD COLUMN correlation_factor {MONEY};     -- entries: size factor for the positions open
ALTER TABLE orders ADD COLUMN stop_pct {MONEY};               -- entries (FILLED): (fill - stop) / fill x 100
ALTER TABLE orders ADD COLUMN size_cap VARCHAR;               -- entries (FILLED): risk | position_cap | cash
ALTER TABLE orders ADD COLUMN stop_price {MONEY};             -- entries (FILLED): the stop set at the fill
ALTER TABLE orders ADD COLUMN target_price {MONEY};           -- entries (FILLED): the target set at the fill
ALTER TABLE orders ADD COLUMN cash {MONEY};                   -- entries (FILLED): free cash at the fill
ALTER TABLE fills ADD COLUMN exit_reason VARCHAR;             -- sells: STOP | TARGET | TRAILING | SIGNAL | FLATTEN
ALTER TABLE positions ADD COLUMN stop_distance {MONEY};       -- the initial stop distance, price units
ALTER TABLE positions ADD COLUMN trail_high {MONEY};          -- highest high the trailing stop follows; NULL before
"""

_EQUITY_ROW = (
    f"STRUCT(ts TIMESTAMPTZ, recorded_at TIMESTAMPTZ, equity {MONEY}, realised_pnl {MONEY}, unrealised_pnl {MONEY}, "
    f"drawdown_pct DOUBLE, day_start_equity {MONEY})"
)
_CANDLE_ROW = "STRUCT(close_time TIMESTAMPTZ, recorded_at TIMESTAMPTZ, close DOUBLE)"

_V5 = f"""
CREATE TABLE equity_rollup (            -- summary of equity rows up to max(max_recorded_at), storage/rollups.py
    width_s        INTEGER NOT NULL,      -- bucket width: 600 (10 minutes) | 3600 (1 hour) | 21600 (6 hours)
    bucket_start   TIMESTAMPTZ NOT NULL,  -- market time, a multiple of width_s since the Unix epoch
    row_count      BIGINT NOT NULL,       -- equity rows with ts in [bucket_start, bucket_start + width_s)
    max_recorded_at TIMESTAMPTZ NOT NULL, -- the latest recorded_at among them
    first          {_EQUITY_ROW} NOT NULL,  -- earliest of them by (ts, recorded_at)
    last           {_EQUITY_ROW} NOT NULL,  -- latest
    low            {_EQUITY_ROW} NOT NULL,  -- lowest by (equity, ts, recorded_at)
    high           {_EQUITY_ROW} NOT NULL,  -- highest
    deepest        {_EQUITY_ROW} NOT NULL,  -- highest by (drawdown_pct, ts, recorded_at)
    PRIMARY KEY (width_s, bucket_start)
);
CREATE TABLE candle_rollup (            -- summary of candles rows up to max(max_recorded_at)
    symbol         VARCHAR NOT NULL,
    width_s        INTEGER NOT NULL,
    bucket_start   TIMESTAMPTZ NOT NULL,  -- market time; candles bucketed by close_time
    row_count      BIGINT NOT NULL,
    max_recorded_at TIMESTAMPTZ NOT NULL,
    first          {_CANDLE_ROW} NOT NULL,
    last           {_CANDLE_ROW} NOT NULL,
    low            {_CANDLE_ROW} NOT NULL,  -- lowest by (close, close_time, recorded_at)
    high           {_CANDLE_ROW} NOT NULL,
    PRIMARY KEY (symbol, width_s, bucket_start)
);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5)

SCHEMA_VERSION = len(MIGRATIONS)

ROLLUPS_SINCE = 5
"""The version that added the rollups: :func:`migrate` builds them from the rows of a file older than that."""

_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in the database (0 for a new file). Read-only: works on a read-only connection."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the missing migrations, one transaction each; return the resulting version.

    A file older than :data:`ROLLUPS_SINCE` then gets its rollups built from its rows (:func:`storage.rollups.rebuild`,
    ≈ 5 CPU seconds for 10 M equity rows and 4.7 M candles), in a transaction of its own, with the definitions of this
    papertrader (so a later change to a rollup's columns never meets an older table). Should that step not complete (a
    crash), the rollups stay empty and every row is their tail: reads stay exact, and the Recorder folds the rows at its
    first flush.

    Raises:
        SchemaVersionError: the file was written by a newer papertrader (its version is above ours).
    """
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"database schema version {version} is newer than this papertrader ({SCHEMA_VERSION}); upgrade papertrader",
            found=version,
            supported=SCHEMA_VERSION,
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(_VERSION_TABLE)
            con.execute(MIGRATIONS[target - 1])
            con.execute("INSERT INTO schema_version VALUES (?, now())", [target])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    if 0 < version < ROLLUPS_SINCE:
        rollups.rebuild(con)
    return SCHEMA_VERSION
