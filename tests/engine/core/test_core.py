"""The trading core with the guards wired in, driven candle by candle (no network, no threads), its events recorded
through the real recording sink: breaker on every mark and after every fill, pre-trade denials stored, commands
audited, in-progress prices running the exits, the data-gap guard."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.commands import Command, CommandKind
from engine.config import BreakerSettings, RiskSettings, Settings
from engine.core.breaker import BreakerState
from engine.core.core import TradingCore
from engine.core.events import CoreEvent
from engine.core.filters import SymbolFilters
from engine.core.models import Candle
from engine.core.portfolio import Portfolio
from engine.core.strategy import Signal, SignalKind, Strategy
from engine.sinks.record import RecordSink
from storage.columns import Units

MINUTE_MS = 60_000
T0 = 1_619_114_400_000  # 2021-04-22 18:00 UTC


class ListRecorder:
    """Keeps rows per table in memory (the sink only needs record/flush); exact amounts given as
    :class:`~storage.columns.Units` come back as the decimals they stand for."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def record(self, table: str, row: Any) -> None:
        self.rows.setdefault(table, []).append({k: Decimal(v).scaleb(-8) if type(v) is Units else v for k, v in row.items()})

    def flush(self) -> int:
        return 0


class Engine:
    """The core with its events recorded through the real :class:`RecordSink` (what the engine loop does)."""

    def __init__(self, core: TradingCore, recorder: ListRecorder) -> None:
        self.core = core
        self.sink = RecordSink(recorder, interval="1m", wall_clock=lambda: 1_700_000_000.0)
        self.atr = core.atr

    def _record(self, events: list[CoreEvent]) -> list[CoreEvent]:
        self.sink.handle_all(events)
        return events

    def on_candle(self, c: Candle) -> list[CoreEvent]:
        return self._record(self.core.on_candle(c))

    def on_price(self, c: Candle, time_ms: int) -> list[CoreEvent]:
        return self._record(self.core.on_price(c, time_ms=time_ms))

    def apply_command(self, command: Command) -> str:
        return self._record(self.core.apply(command))[-1].result.value


class Scripted:
    """A strategy that says ENTER_LONG on the closes of the candles numbered ``enter_at`` (see :func:`candle`)."""

    warmup = 1

    def __init__(self, *enter_at: int) -> None:
        self.enter_at = {T0 + i * MINUTE_MS for i in enter_at}

    def on_candle(self, candle: Candle) -> Signal | None:
        if candle.open_time_ms in self.enter_at:
            return Signal(candle.symbol, SignalKind.ENTER_LONG, "scripted")
        return None


class FixedATR:
    """An ATR that stays where the test puts it, so stop distances are hand-computable."""

    def __init__(self, value: float) -> None:
        self.value = value

    def on_candle(self, candle: Candle) -> None:
        pass


FILTERS = {
    "BTCUSDT": SymbolFilters("BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal(9000), Decimal(5)),
    "ETHUSDT": SymbolFilters("ETHUSDT", "ETH", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal(9000), Decimal(5)),
}


def candle(
    i: int, close: str, *, low: str | None = None, high: str | None = None, open_: str | None = None, symbol: str = "BTCUSDT"
) -> Candle:
    o = Decimal(open_ or close)
    c = Decimal(close)
    return Candle(
        symbol, T0 + i * MINUTE_MS, T0 + (i + 1) * MINUTE_MS - 1, o,
        Decimal(high) if high else max(o, c), Decimal(low) if low else min(o, c), c, Decimal(1),
    )


def make_engine(
    strategy: Strategy, *, all_in: bool = False, trading: dict[str, Any] | None = None, **sections: Any
) -> tuple[Engine, ListRecorder]:
    """``all_in``: risk 10 % with no position cap, so a 10 % stop sizes (almost) the whole account. BTCUSDT's ATR
    is fixed at 1,000 (stop 1,500 below the fill), ETHUSDT's at 30 (stop 45 below)."""
    options: dict[str, Any] = {"symbols": ("BTCUSDT",), "slippage_bps": 0.0}
    if all_in:
        options |= {"risk_pct": 10.0, "max_position_pct": 100.0}
    settings = Settings(trading=options | (trading or {}), **sections)
    recorder = ListRecorder()
    core = TradingCore(settings, strategy=strategy, portfolio=Portfolio(Decimal(10_000)))
    core.set_filters(FILTERS)
    engine = Engine(core, recorder)
    engine.atr["BTCUSDT"] = FixedATR(1_000.0)  # stop = close − 1.5 × 1000 = close − 1500 (3 % at 50,000)
    if "ETHUSDT" in engine.atr:
        engine.atr["ETHUSDT"] = FixedATR(30.0)
    return engine, recorder


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)


def test_entry_fills_at_the_next_open_sized_by_risk() -> None:
    """Risk 2 % of 10,000 = 200 over a 3 % stop → 6,666.67, capped at 20 % of equity = 2,000 → 0.04 BTC at 50,000."""
    engine, recorder = make_engine(Scripted(0))
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))

    (fill,) = recorder.rows["fills"]
    assert (fill["side"], fill["price"], fill["quantity"]) == ("BUY", Decimal("50000.00"), Decimal("0.04000"))
    assert engine.core.portfolio.positions["BTCUSDT"].stop_price == Decimal("48500")


def test_a_trip_is_stored_at_the_first_crossing_mark_and_flattens_when_configured() -> None:
    """All in at 50,000 with a stop at 44,999.99: cash 10,000 / 1.001 buys 0.19980 BTC (9,990.00 + 9.99 fee).
    A close at 48,000 marks 0.1998 × 2,000 = 399.60 down, 409.59 = 4.10 % with the fee: WARNING only. A close at 47,000
    is 599.40 + 9.99 = 609.39 down, 6.09 % ≥ 5 % → TRIPPED at that mark, and flatten_on_trip sells at the mark."""
    engine, recorder = make_engine(Scripted(0), all_in=True, breaker=BreakerSettings(flatten_on_trip=True))
    engine.atr["BTCUSDT"] = FixedATR(3_333.34)
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    assert recorder.rows["fills"][0]["quantity"] == Decimal("0.19980")
    engine.on_candle(candle(2, "48000", open_="50000"))
    assert engine.core.breaker.state is BreakerState.WARNING
    engine.on_candle(candle(3, "47000", open_="48000"))

    events = recorder.rows["breaker_events"]
    assert [e["kind"] for e in events] == ["WarningTriggered", "BreakerTripped"]
    assert events[1]["ts"].timestamp() * 1000 == T0 + 4 * MINUTE_MS - 1
    assert events[1]["daily_loss_pct"] == pytest.approx(6.0939, abs=1e-3)
    assert engine.core.portfolio.positions == {}
    assert recorder.rows["trades"][-1]["exit_reason"] == "FLATTEN"


def test_tripped_breaker_denies_entries_with_a_stored_reason_and_cancels_pending_ones() -> None:
    engine, recorder = make_engine(Scripted(0, 4, 5), all_in=True)
    engine.atr["BTCUSDT"] = FixedATR(3_333.34)
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_candle(candle(2, "47000", open_="50000"))  # 6.09 % daily loss: TRIPPED, position kept (no flatten)
    assert engine.core.breaker.state is BreakerState.TRIPPED
    engine.on_candle(candle(3, "40000", low="40000", open_="47000"))  # the stop still works
    engine.on_candle(candle(4, "40000"))  # scripted entry: denied
    engine.on_candle(candle(5, "40000"))  # scripted entry: denied

    assert [d["reason_code"] for d in recorder.rows["risk_denials"]] == ["BREAKER_TRIPPED"] * 2
    assert [f["side"] for f in recorder.rows["fills"]] == ["BUY", "SELL"]
    assert recorder.rows["trades"][0]["exit_reason"] == "STOP"


def test_reset_is_refused_unless_tripped_and_rearms_with_rebased_baselines() -> None:
    engine, recorder = make_engine(Scripted(0), all_in=True)
    engine.atr["BTCUSDT"] = FixedATR(3_333.34)
    assert engine.apply_command(Command(CommandKind.RESET_BREAKER, "ops", "why not")) == "REFUSED"
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_candle(candle(2, "47000", open_="50000"))
    assert engine.apply_command(Command(CommandKind.RESET_BREAKER, "ops", "")) == "REFUSED"
    assert engine.apply_command(Command(CommandKind.RESET_BREAKER, "ops", "checked the feed")) == "OK"
    assert engine.core.breaker.state is BreakerState.ACTIVE
    engine.on_candle(candle(3, "47000"))  # same loss, re-based: no new trip
    assert engine.core.breaker.state is BreakerState.ACTIVE

    assert [c["result"] for c in recorder.rows["commands"]] == ["REFUSED", "REFUSED", "OK"]
    assert [e["kind"] for e in recorder.rows["breaker_events"]] == ["BreakerTripped", "BreakerReset"]
    assert recorder.rows["breaker_events"][1]["actor"] == "ops"


def test_paused_entries_are_denied_but_stops_still_work() -> None:
    engine, recorder = make_engine(Scripted(0, 3))
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    assert engine.apply_command(Command(CommandKind.PAUSE, "ops")) == "OK"
    engine.on_candle(candle(2, "48000", low="48000", open_="50000"))  # touches the 48,500 stop
    engine.on_candle(candle(3, "48000"))  # scripted entry while paused

    assert recorder.rows["trades"][0]["exit_reason"] == "STOP"
    assert [d["reason_code"] for d in recorder.rows["risk_denials"]] == ["PAUSED"]


def test_max_trades_per_day_denies_the_next_entry() -> None:
    engine, recorder = make_engine(Scripted(0, 3), risk=RiskSettings(max_trades_per_day=1))
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_candle(candle(2, "48000", low="48000", open_="50000"))  # stopped out
    engine.on_candle(candle(3, "48000"))

    assert [d["reason_code"] for d in recorder.rows["risk_denials"]] == ["MAX_TRADES_PER_DAY"]


def test_flatten_command_sells_everything_at_the_mark_and_is_audited() -> None:
    engine, recorder = make_engine(Scripted(0))
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "51000"))
    assert engine.apply_command(Command(CommandKind.FLATTEN, "ops", "end of day")) == "OK"
    assert engine.apply_command(Command(CommandKind.FLATTEN, "ops", "again")) == "IGNORED"

    assert engine.core.portfolio.positions == {}
    trade = recorder.rows["trades"][-1]
    assert (trade["exit_reason"], trade["exit_price"]) == ("FLATTEN", Decimal("51000.00"))


def in_progress(i: int, close: str, *, open_: str, low: str | None = None, high: str | None = None) -> Candle:
    """Candle ``i`` part-way through its minute (not closed): its range so far."""
    c = candle(i, close, low=low, high=high, open_=open_)
    return Candle(c.symbol, c.open_time_ms, c.close_time_ms, c.open, c.high, c.low, c.close, c.volume, closed=False)


def test_an_in_progress_price_runs_the_stop_before_the_candle_closes_and_is_recorded() -> None:
    """The stop (48,500) fires on the first in-progress update whose low reaches it, at min(stop, open); the mark
    is an equity row with source ``price``; the closed candle that follows finds nothing left to sell."""
    engine, recorder = make_engine(Scripted(0))
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_price(in_progress(2, "49900", open_="50000"), T0 + 2 * MINUTE_MS + 10_000)
    assert recorder.rows["equity"][-1]["source"] == "price"
    assert "trades" not in recorder.rows
    engine.on_price(in_progress(2, "48400", open_="50000", low="48400"), T0 + 2 * MINUTE_MS + 20_000)

    (trade,) = recorder.rows["trades"]
    assert (trade["exit_reason"], trade["exit_price"]) == ("STOP", Decimal("48500.00"))
    assert recorder.rows["fills"][-1]["ts"].timestamp() * 1000 == T0 + 2 * MINUTE_MS + 20_000
    assert [r["source"] for r in recorder.rows["equity"]][-2:] == ["fill", "price"], "after the stop's fill, its mark"
    engine.on_candle(candle(2, "48000", open_="50000", low="47000"))
    assert len(recorder.rows["fills"]) == 2, "the closed candle does not sell again"


def test_an_update_of_a_processed_candle_is_ignored() -> None:
    engine, recorder = make_engine(Scripted())
    engine.on_candle(candle(0, "50000"))
    rows = len(recorder.rows["equity"])
    assert engine.on_price(in_progress(0, "1", open_="50000", low="1"), T0 + 30_000) == []
    assert len(recorder.rows["equity"]) == rows


def test_the_breaker_is_evaluated_right_after_a_fill() -> None:
    """All in at 50,000 (0.1998 BTC), stop 44,999.99. A close at 47,700 is a 4.70 % loss (WARNING). The next candle
    opens at 44,000, below the stop: the stop fills there, and the loss it realises (12 %) trips the breaker at the
    fill — before the candle's mark."""
    engine, recorder = make_engine(Scripted(0), all_in=True)
    engine.atr["BTCUSDT"] = FixedATR(3_333.34)
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_candle(candle(2, "47700", open_="50000"))
    assert engine.core.breaker.state is BreakerState.WARNING
    events = engine.on_candle(candle(3, "44500", open_="44000"))

    kinds = [type(e).__name__ for e in events]
    assert kinds[:6] == ["CandleClosed", "OrderCreated", "Filled", "Marked", "BreakerChanged", "Marked"]
    assert [e.source.value for e in events if type(e).__name__ == "Marked"] == ["fill", "candle"]
    assert recorder.rows["breaker_events"][-1]["kind"] == "BreakerTripped"
    assert recorder.rows["breaker_events"][-1]["ts"].timestamp() * 1000 == T0 + 3 * MINUTE_MS, "at the fill's time"


def test_the_day_baseline_is_set_before_the_first_event_of_the_day() -> None:
    """An entry decided at 23:59 fills at the 00:00 open: the new day's baseline is the equity before that fill,
    so its fee counts as the new day's loss."""
    day_end = 1_619_222_340_000  # 2021-04-23 23:59 UTC
    strategy = Scripted()
    strategy.enter_at = {day_end}
    engine, recorder = make_engine(strategy)

    def at(open_ms: int, close: str) -> Candle:
        price = Decimal(close)
        return Candle("BTCUSDT", open_ms, open_ms + MINUTE_MS - 1, price, price, price, price, Decimal(1))

    engine.on_candle(at(day_end - MINUTE_MS, "50000"))
    engine.on_candle(at(day_end, "50000"))
    engine.on_candle(at(day_end + MINUTE_MS, "50000"))

    first_of_day = recorder.rows["equity"][-1]
    assert first_of_day["day_start_equity"] == Decimal(10_000), "baseline taken before the fill"
    assert first_of_day["daily_pnl_pct"] < 0, "the fee is the new day's loss"


def test_an_open_data_gap_cancels_the_pending_entry_and_denies_new_ones_until_it_closes() -> None:
    engine, recorder = make_engine(Scripted(0, 1, 2))
    engine.on_candle(candle(0, "50000"))  # entry queued
    engine.sink.handle_all(engine.core.set_data_gap("BTCUSDT", open_=True, detail="3 candle(s) missing"))
    assert engine.core.desk.pending == {}
    engine.on_candle(candle(1, "50000"))  # signal while the gap is open
    engine.sink.handle_all(engine.core.set_data_gap("BTCUSDT", open_=False))
    engine.on_candle(candle(2, "50000"))  # signal after it closed
    engine.on_candle(candle(3, "50000"))

    statuses = [(o["status"], o["reason"]) for o in recorder.rows["orders"]]
    assert statuses[:2] == [("NEW", "scripted"), ("CANCELLED", "data gap: 3 candle(s) missing")]
    assert [d["reason_code"] for d in recorder.rows["risk_denials"]] == ["DATA_GAP"]
    assert [f["side"] for f in recorder.rows["fills"]] == ["BUY"]


# ---------------------------------------------------------------------------------------------- sizing and exits by hand
def test_a_candle_touching_stop_and_target_hits_the_stop_first() -> None:
    """Fill 50,000, stop 48,500, target 53,000: a candle with low 48,000 and high 54,000 sells at the stop."""
    engine, recorder = make_engine(Scripted(0), trading={"trailing_stop": False})
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    assert (recorder.rows["orders"][-1]["stop_price"], recorder.rows["orders"][-1]["target_price"]) == (
        Decimal("48500.00"), Decimal("53000.00"))
    engine.on_candle(candle(2, "50000", open_="50000", low="48000", high="54000"))

    (trade,) = recorder.rows["trades"]
    assert (trade["exit_reason"], trade["exit_price"]) == ("STOP", Decimal("48500.00"))


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    """The next candle opens at 47,000, below the 48,500 stop: the stop sells at 47,000, not at 48,500."""
    engine, recorder = make_engine(Scripted(0))
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_candle(candle(2, "46900", open_="47000", high="47000"))

    (trade,) = recorder.rows["trades"]
    assert (trade["exit_reason"], trade["exit_price"]) == ("STOP", Decimal("47000.00"))
    assert recorder.rows["fills"][-1]["exit_reason"] == "STOP"


def test_the_trailing_stop_starts_at_one_stop_distance_follows_the_high_and_exits_as_trailing() -> None:
    """Fill 50,000, stop 48,500 (distance 1,500). A high of 51,400 is below the activation (51,500): nothing moves.
    A high of 51,600 starts the trail: stop 50,100. 52,000: 50,500. A lower high leaves it. A low of 50,400 exits at
    50,500 — TRAILING, a profit."""
    engine, recorder = make_engine(Scripted(0))
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_candle(candle(2, "51300", open_="50000", high="51400"))
    assert engine.core.portfolio.positions["BTCUSDT"].stop_price == Decimal("48500.00")
    engine.on_candle(candle(3, "51500", open_="51300", high="51600"))
    assert engine.core.portfolio.positions["BTCUSDT"].stop_price == Decimal("50100.00")
    engine.on_candle(candle(4, "51900", open_="51500", high="52000"))
    engine.on_candle(candle(5, "51800", open_="51900", high="51950", low="51700"))
    assert engine.core.portfolio.positions["BTCUSDT"].stop_price == Decimal("50500.00"), "never moves down"
    engine.on_candle(candle(6, "50600", open_="51000", low="50400"))

    (trade,) = recorder.rows["trades"]
    assert (trade["exit_reason"], trade["exit_price"]) == ("TRAILING", Decimal("50500.00"))
    assert trade["pnl"] > 0
    moves = [(p["stop_price"], p["trail_high"]) for p in recorder.rows["positions"] if p["quantity"] > 0]
    assert moves == [
        (Decimal("48500.00"), None),  # the fill
        (Decimal("50100.00"), Decimal("51600")),
        (Decimal("50500.00"), Decimal("52000")),
    ]


def test_slippage_cannot_push_an_entry_past_the_20_pct_cap() -> None:
    """Signal at 50,000, but 100 bps of slippage fills at 50,500. Sized at the signal (0.04 BTC) it would be worth
    2,020 > 20 % of 10,000; sized at the fill it is 2,000 / 50,500 = 0.039603 → 0.03960 BTC = 1,999.98."""
    engine, recorder = make_engine(Scripted(0), trading={"slippage_bps": 100})
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))

    (fill,) = recorder.rows["fills"]
    assert (fill["price"], fill["quantity"]) == (Decimal("50500.00"), Decimal("0.03960"))
    assert fill["quote_qty"] <= Decimal("2000")
    filled = recorder.rows["orders"][-1]
    assert (filled["status"], filled["size_cap"], filled["stop_price"]) == ("FILLED", "position_cap", Decimal("49000.00"))
    assert filled["target_price"] == Decimal("53500.00"), "2 x the 1,500 stop distance from the fill, not the signal"


def test_a_stop_too_close_to_the_fill_cancels_the_entry() -> None:
    """ATR 300 → a 450 stop distance: 0.9 % at the 50,000 signal, but the next candle opens at 100,000 (a 0.45 %
    stop): the order is cancelled with STOP_TOO_TIGHT, nothing is bought."""
    engine, recorder = make_engine(Scripted(0))
    engine.atr["BTCUSDT"] = FixedATR(300.0)
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "100000", open_="100000"))

    assert "fills" not in recorder.rows
    status, reason = recorder.rows["orders"][-1]["status"], recorder.rows["orders"][-1]["reason"]
    assert status == "CANCELLED" and reason.startswith("STOP_TOO_TIGHT")


@pytest.mark.parametrize("eth_pending", [False, True])
def test_the_51st_entry_of_a_day_is_denied_counting_the_pending_one(eth_pending: bool) -> None:
    """The default limit, 50 entries a UTC day. BTC makes 49 round trips (entry signal on even minutes, exit on odd
    ones: 49 entries filled by 19:37 UTC). With an ETH entry still pending (signalled at minute 98, it fills at
    minute 99's ETH open, after BTC's candle), BTC's signal at minute 99 is the 51st entry and is denied
    MAX_TRADES_PER_DAY; without it, BTC's is the 50th and is allowed. (Counting fills only, 49, would allow both.)"""
    btc_entries = {2 * k for k in range(49)}
    btc_exits = {2 * k + 1 for k in range(49)}

    class Signals:
        warmup = 1

        def on_candle(self, c: Candle) -> Signal | None:
            minute = (c.open_time_ms - T0) // MINUTE_MS
            if c.symbol == "BTCUSDT" and (minute in btc_entries or minute == 99):
                return Signal(c.symbol, SignalKind.ENTER_LONG, "scripted")
            if c.symbol == "BTCUSDT" and minute in btc_exits:
                return Signal(c.symbol, SignalKind.EXIT_LONG, "scripted")
            if c.symbol == "ETHUSDT" and minute == 98 and eth_pending:
                return Signal(c.symbol, SignalKind.ENTER_LONG, "scripted")
            return None

    engine, recorder = make_engine(Signals(), trading={"symbols": ("BTCUSDT", "ETHUSDT")})
    assert engine.core.risk_limits.max_trades_per_day == 50
    for minute in range(100):
        engine.on_candle(candle(minute, "50000"))
        engine.on_candle(candle(minute, "3000", symbol="ETHUSDT"))

    buys = [f for f in recorder.rows["fills"] if f["side"] == "BUY"]
    btc_orders = [o for o in recorder.rows["orders"] if o["symbol"] == "BTCUSDT" and o["side"] == "BUY"]
    if eth_pending:
        assert [d["reason_code"] for d in recorder.rows.get("risk_denials", [])] == ["MAX_TRADES_PER_DAY"]
        assert len(buys) == 50  # 49 BTC + the ETH entry that was pending (the 50th)
        assert sum(o["status"] == "NEW" for o in btc_orders) == 49
    else:
        assert recorder.rows.get("risk_denials", []) == []
        assert len(buys) == 49 and btc_orders[-1]["status"] == "NEW"  # the 50th, accepted: fills at minute 100
        assert sum(o["status"] == "NEW" for o in btc_orders) == 50


def test_advance_skips_flat_symbols_candles_and_refuses_a_held_one() -> None:
    """A replay skips candles on which nothing can happen: the marks, the last candle and the clocks move on, the
    account does not; a symbol with a position (or a pending order) cannot be skipped."""
    engine, _ = make_engine(Scripted(0), trading={"symbols": ("BTCUSDT", "ETHUSDT")})
    core = engine.core
    engine.on_candle(candle(0, "50000"))  # BTC signals: a pending entry
    before = core.portfolio.snapshot(T0)

    core.advance({"ETHUSDT": (T0 + 5 * MINUTE_MS, Decimal("3100.5"))}, candles=6)

    assert core.last_candle_ms["ETHUSDT"] == T0 + 5 * MINUTE_MS
    assert core.portfolio.marks["ETHUSDT"] == Decimal("3100.5")
    assert core.market_time_ms == T0 + 6 * MINUTE_MS - 1
    assert core.candles_processed == 1 + 6
    assert core.portfolio.snapshot(T0).equity == before.equity
    with pytest.raises(ValueError, match="BTCUSDT has a position or a pending order"):
        core.advance({"BTCUSDT": (T0 + MINUTE_MS, Decimal("50000"))}, candles=1)
