"""The engine's synchronous core with the guards wired in, driven candle by candle (no network, no threads):
breaker on every mark and before every entry, pre-trade denials stored, commands audited."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.breaker import BreakerState
from engine.commands import Command, CommandKind
from engine.config import BreakerSettings, RiskSettings, Settings
from engine.engine import Engine
from engine.filters import SymbolFilters
from engine.models import Candle
from engine.portfolio import Portfolio
from engine.strategy import Signal, SignalKind

MINUTE_MS = 60_000
T0 = 1_619_114_400_000  # 2021-04-22 18:00 UTC


class ListRecorder:
    """Keeps rows per table in memory (the engine only needs record/flush)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def record(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(dict(row))

    def flush(self) -> int:
        return 0


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

    def update(self, high: float, low: float, close: float) -> float:
        return self.value


FILTERS = {
    "BTCUSDT": SymbolFilters("BTCUSDT", "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal(9000), Decimal(5)),
}


def candle(i: int, close: str, *, low: str | None = None, high: str | None = None, open_: str | None = None) -> Candle:
    o = Decimal(open_ or close)
    c = Decimal(close)
    return Candle(
        "BTCUSDT", T0 + i * MINUTE_MS, T0 + (i + 1) * MINUTE_MS - 1, o,
        Decimal(high) if high else max(o, c), Decimal(low) if low else min(o, c), c, Decimal(1),
    )


def make_engine(strategy: Scripted, *, all_in: bool = False, **sections: Any) -> tuple[Engine, ListRecorder]:
    """``all_in``: risk 10 % with no position cap, so a 10 % stop sizes (almost) the whole account."""
    trading: dict[str, Any] = {"symbols": ("BTCUSDT",), "slippage_bps": 0.0}
    if all_in:
        trading |= {"risk_pct": 10.0, "max_position_pct": 100.0}
    settings = Settings(trading=trading, **sections)
    recorder = ListRecorder()
    engine = Engine(settings, recorder=recorder, strategy=strategy, portfolio=Portfolio(Decimal(10_000)))
    engine.set_filters(FILTERS)
    engine.atr["BTCUSDT"] = FixedATR(1_000.0)  # stop = close − 1.5 × 1000 = close − 1500 (3 % at 50,000)
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
    assert engine.portfolio.positions["BTCUSDT"].stop_price == Decimal("48500")


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
    assert engine.breaker.state is BreakerState.WARNING
    engine.on_candle(candle(3, "47000", open_="48000"))

    events = recorder.rows["breaker_events"]
    assert [e["kind"] for e in events] == ["WarningTriggered", "BreakerTripped"]
    assert events[1]["ts"].timestamp() * 1000 == T0 + 4 * MINUTE_MS - 1
    assert events[1]["daily_loss_pct"] == pytest.approx(6.0939, abs=1e-3)
    assert engine.portfolio.positions == {}
    assert recorder.rows["trades"][-1]["exit_reason"] == "FLATTEN"


def test_tripped_breaker_denies_entries_with_a_stored_reason_and_cancels_pending_ones() -> None:
    engine, recorder = make_engine(Scripted(0, 4, 5), all_in=True)
    engine.atr["BTCUSDT"] = FixedATR(3_333.34)
    engine.on_candle(candle(0, "50000"))
    engine.on_candle(candle(1, "50000"))
    engine.on_candle(candle(2, "47000", open_="50000"))  # 6.09 % daily loss: TRIPPED, position kept (no flatten)
    assert engine.breaker.state is BreakerState.TRIPPED
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
    assert engine.breaker.state is BreakerState.ACTIVE
    engine.on_candle(candle(3, "47000"))  # same loss, re-based: no new trip
    assert engine.breaker.state is BreakerState.ACTIVE

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

    assert engine.portfolio.positions == {}
    trade = recorder.rows["trades"][-1]
    assert (trade["exit_reason"], trade["exit_price"]) == ("FLATTEN", Decimal("51000.00"))


def test_simulator_commands_are_applied_through_the_venue_control_and_audited() -> None:
    """Without a simulator they are refused; with one, its answer is the audit detail, and a bad switch is refused."""
    engine, recorder = make_engine(Scripted())
    assert engine.apply_command(Command(CommandKind.SET_FAULTS, "ops", params={"ws_stall": True})) == "REFUSED"

    applied: list[Command] = []

    def control(command: Command) -> str:
        if command.params.get("rest_5xx_rate", 0) > 1:
            raise ValueError("rest_5xx_rate must be at most 1")
        applied.append(command)
        return f"faults: {dict(command.params)}"

    engine.venue_control = control
    assert engine.apply_command(Command(CommandKind.SET_FAULTS, "ops", params={"ws_stall": True})) == "OK"
    assert engine.apply_command(Command(CommandKind.SET_FAULTS, "ops", params={"rest_5xx_rate": 2.0})) == "REFUSED"

    rows = [(c["command"], c["result"], c["detail"]) for c in recorder.rows["commands"]]
    assert rows == [
        ("SET_FAULTS", "REFUSED", "the venue is not the simulator"),
        ("SET_FAULTS", "OK", "faults: {'ws_stall': True}"),
        ("SET_FAULTS", "REFUSED", "rest_5xx_rate must be at most 1"),
    ]
    assert [c.params for c in applied] == [{"ws_stall": True}]
