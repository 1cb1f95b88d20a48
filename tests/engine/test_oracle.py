"""An oracle that trusts nothing but the stored rows: after a replay of a real month (the bundled one, and Nov–Dec
2021 from a kline directory), it recomputes from the database alone the ledger (cash, positions, fees), every fill
against its candle, every entry's size against ``../shared/SPEC.md`` §3.2, and every breaker transition, and lists
each violation. Zero is the only passing count.

The oracle is written independently of the engine's code: it imports only the settings (for the limits) and the
simulator's symbol rules (tick and step), and does its arithmetic in plain ``Decimal``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from engine.cli.offline import bundled_replay
from engine.config import Settings
from simulator.symbols import SYMBOL_RULES

D = Decimal
EIGHT = D("0.00000001")
DAY_MS = 86_400_000


def _floor(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _ceil(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


@dataclass
class Oracle:
    """Reads one replay database and collects violations (human-readable lines)."""

    cur: duckdb.DuckDBPyConnection
    settings: Settings

    def __post_init__(self) -> None:
        self.violations: list[str] = []
        t = self.settings.trading
        self.fee_rate = t.taker_fee_pct / 100
        self.slippage = t.slippage_bps / 10_000
        self.start = t.starting_balance

    def bad(self, what: str) -> None:
        self.violations.append(what)

    def rows(self, sql: str) -> list[tuple]:
        return self.cur.execute(sql).fetchall()

    # ---------------------------------------------------------------- the ledger
    def ledger(self) -> None:
        """Cash, positions and fees from the fills alone; every ``fill`` equity row and the last one agree with
        them to the last unit."""
        cash, held = self.start, defaultdict(lambda: D(0))
        cash_after: dict[str, Decimal] = {}
        for fill_id, side, symbol, price, qty, quote, fee in self.rows(
            "SELECT fill_id, side, symbol, price, quantity, quote_qty, fee FROM fills ORDER BY rowid"
        ):
            if quote != (price * qty).quantize(EIGHT, rounding=ROUND_HALF_UP):
                self.bad(f"{fill_id}: quote {quote} != price {price} x quantity {qty}")
            if fee != (quote * self.fee_rate).quantize(EIGHT, rounding=ROUND_HALF_UP):
                self.bad(f"{fill_id}: fee {fee} != {self.fee_rate} x {quote}")
            if side == "BUY":
                cash -= quote + fee
                held[symbol] += qty
            else:
                if qty != held[symbol]:
                    self.bad(f"{fill_id}: sells {qty} of a {held[symbol]} position")
                cash += quote - fee
                held[symbol] -= qty
            if cash < 0:
                self.bad(f"{fill_id}: cash below zero ({cash})")
            cash_after[fill_id] = cash
        # the equity row written right after each fill carries the cash of the ledger at that point
        marks = self.rows(
            "SELECT e.cash, f.fill_id FROM equity e JOIN fills f ON e.source = 'fill' AND e.symbol = f.symbol "
            "AND e.ts = f.ts ORDER BY e.rowid"
        )
        checked = {fill_id for stored, fill_id in marks if stored == cash_after.get(fill_id)}
        if len(checked) != len(cash_after):
            self.bad(f"{len(cash_after) - len(checked)} fill(s) whose equity row's cash differs from the ledger")
        (last_cash,) = self.rows("SELECT arg_max(cash, rowid) FROM equity")[0]
        if last_cash != cash:
            self.bad(f"last equity row's cash {last_cash} != ledger cash {cash}")
        for symbol, qty in self.rows("SELECT symbol, arg_max(quantity, rowid) FROM positions GROUP BY symbol"):
            if qty != held[symbol]:
                self.bad(f"{symbol}: last position row {qty} != ledger {held[symbol]}")
        for ts, equity, cash_, positions in self.rows("SELECT ts, equity, cash, positions_value FROM equity"):
            if equity != cash_ + positions:
                self.bad(f"equity row at {ts}: {equity} != cash {cash_} + positions {positions}")

    # ---------------------------------------------------------------- fills against candles
    def fills_against_candles(self) -> None:
        """Every fill's reference price is what its candle allowed (an entry or a signal exit at the open; a stop at
        min(stop, open) on a candle whose low reached it; a target at max(target, open) on one whose high did), and
        its price is the reference moved 2 bps against it, rounded to the tick against it."""
        # a position's stop and target as they stood before an exit: its last open row at or before the exit's candle
        position_rows = defaultdict(list)
        for symbol, ts, stop, target in self.rows(
            "SELECT symbol, ts, stop_price, target_price FROM positions WHERE quantity > 0 ORDER BY ts, rowid"
        ):
            position_rows[symbol].append((ts, stop, target))
        fills = self.rows(
            "SELECT f.fill_id, f.symbol, f.side, f.price, f.reference_price, f.exit_reason, f.ts, "
            "c.open, c.high, c.low FROM fills f LEFT JOIN candles c ON c.symbol = f.symbol AND c.open_time = f.ts "
            "ORDER BY f.rowid"
        )
        for fill_id, symbol, side, price, ref, reason, ts, c_open, c_high, c_low in fills:
            tick = SYMBOL_RULES[symbol].tick_size
            if c_open is None:
                self.bad(f"{fill_id}: no candle of {symbol} opens at its time")
                continue
            before = [r for r in position_rows[symbol] if r[0] <= ts]
            stop, target = (before[-1][1], before[-1][2]) if before else (None, None)
            if side == "BUY" or reason == "SIGNAL":
                if float(ref) != c_open:
                    self.bad(f"{fill_id}: {side} {reason or ''} reference {ref} != the open {c_open}")
            elif reason in ("STOP", "TRAILING"):
                if stop is None or float(stop) < c_low or float(ref) != min(float(stop), c_open):
                    self.bad(f"{fill_id}: {reason} at {ref}: stop {stop}, candle open {c_open} low {c_low}")
            elif reason == "TARGET":
                if target is None or float(target) > c_high or float(ref) != max(float(target), c_open):
                    self.bad(f"{fill_id}: TARGET at {ref}: target {target}, candle open {c_open} high {c_high}")
            else:
                self.bad(f"{fill_id}: unexpected exit reason {reason!r}")
            expected = _ceil(ref * (1 + self.slippage), tick) if side == "BUY" else _floor(ref * (1 - self.slippage), tick)
            if price != expected:
                self.bad(f"{fill_id}: price {price} != {side} slippage of {ref} ({expected})")

    # ---------------------------------------------------------------- entry sizes
    def entry_sizes(self) -> None:
        """Each filled entry against §3.2 with the inputs its order row stored: the risk budget, the 20 % cap and the
        free cash hold at the fill price; the stop is the fill minus the planned distance, at least 0.5 % away; the
        target is 2 stop distances above the fill; the quantity is the smallest cap (the one named) times the
        correlation factor, floored to the step. At most 50 entries a UTC day, at most 3 positions at a time."""
        t = self.settings.trading
        scale = self.settings.risk.correlation_scale
        for order_id, symbol, qty, equity, risk, distance, factor, stop_pct, cap, stop, target, cash, price in self.rows(
            "SELECT o.order_id, o.symbol, o.quantity, o.equity, o.risk_amount, o.stop_distance, o.correlation_factor, "
            "o.stop_pct, o.size_cap, o.stop_price, o.target_price, o.cash, f.price FROM orders o "
            "JOIN fills f ON f.order_id = o.order_id WHERE o.side = 'BUY' AND o.status = 'FILLED'"
        ):
            rules = SYMBOL_RULES[symbol]
            if stop != _floor(price - distance, rules.tick_size):
                self.bad(f"{order_id}: stop {stop} != fill {price} - distance {distance}, rounded down")
            if (price - stop) / price * 100 < t.min_stop_pct:
                self.bad(f"{order_id}: stop {stop} closer than {t.min_stop_pct} % to the fill {price}")
            if stop_pct != ((price - stop) / price * 100).quantize(EIGHT, rounding=ROUND_HALF_UP):
                self.bad(f"{order_id}: stored stop % {stop_pct} is not the fill's")
            if target != _ceil(price + (price - stop) * t.reward_risk, rules.tick_size):
                self.bad(f"{order_id}: target {target} is not {t.reward_risk} stop distances above the fill {price}")
            caps = {
                "risk": risk / (price - stop),
                "position_cap": equity * t.max_position_pct / 100 / price,
                "cash": cash / (price * (1 + self.fee_rate)),
            }
            bound = min(caps, key=lambda k: caps[k])
            if cap != bound:
                self.bad(f"{order_id}: size_cap says {cap}, the smallest cap is {bound}")
            if qty != _floor(caps[bound] * factor, rules.step_size):
                self.bad(f"{order_id}: quantity {qty} != floor({caps[bound]} x {factor})")
            if qty * price > equity * t.max_position_pct / 100:
                self.bad(f"{order_id}: {qty} x {price} above {t.max_position_pct} % of {equity}")
            if qty * (price - stop) > risk:
                self.bad(f"{order_id}: risk {qty * (price - stop)} above the budget {risk}")
            if qty * price * (1 + self.fee_rate) > cash:
                self.bad(f"{order_id}: costs more than the free cash {cash}")
            if factor not in scale:
                self.bad(f"{order_id}: correlation factor {factor} not in {scale}")
        for day, entries in self.rows(f"SELECT epoch_ms(ts) // {DAY_MS}, count(*) FROM fills WHERE side = 'BUY' GROUP BY 1"):
            if entries > self.settings.risk.max_trades_per_day:
                self.bad(f"day {day}: {entries} entries > {self.settings.risk.max_trades_per_day}")
        open_now: set[str] = set()
        for fill_id, symbol, side in self.rows("SELECT fill_id, symbol, side FROM fills ORDER BY rowid"):
            (open_now.add if side == "BUY" else open_now.discard)(symbol)
            if len(open_now) > self.settings.risk.max_open_positions:
                self.bad(f"{fill_id}: {len(open_now)} positions open")

    # ---------------------------------------------------------------- the breaker
    def breaker(self) -> None:
        """The breaker's state machine run over the stored equity rows, in the order they were written, makes
        exactly the stored transitions, at the same rows, with the same baselines; the peak is the running maximum and
        a new day's baseline is the equity the previous day ended with."""
        b = self.settings.breaker
        state, expected = "ACTIVE", []
        peak, last_day, last_equity = None, None, None
        for ts_ms, equity, day_start, top in self.rows(
            "SELECT epoch_ms(ts), equity, day_start_equity, peak_equity FROM equity ORDER BY rowid"
        ):
            peak = top if peak is None else max(peak, equity)
            if top != peak:
                self.bad(f"equity row at {ts_ms}: peak {top} != running peak {peak}")
            day = ts_ms // DAY_MS
            if last_day is not None and day > last_day and day_start != last_equity:
                self.bad(f"equity row at {ts_ms}: day start {day_start} != the previous day's last equity {last_equity}")
            last_day, last_equity = max(day, last_day or day), equity
            if state == "TRIPPED":
                continue
            loss = (day_start - equity) / day_start * 100
            drawdown = (peak - equity) / peak * 100
            if loss >= b.daily_loss_pct or drawdown >= b.drawdown_pct:
                expected.append(("BreakerTripped", ts_ms, equity, day_start, peak))
                state = "TRIPPED"
            elif loss >= b.warning_pct and state == "ACTIVE":
                expected.append(("WarningTriggered", ts_ms, equity, day_start, peak))
                state = "WARNING"
            elif loss < b.warning_pct and state == "WARNING":
                expected.append(("WarningCleared", ts_ms, equity, day_start, peak))
                state = "ACTIVE"
        stored = self.rows("SELECT kind, epoch_ms(ts), equity, day_start_equity, peak_equity FROM breaker_events ORDER BY rowid")
        if stored != expected:
            self.bad(f"breaker: stored {stored[:3]}... ({len(stored)}) != recomputed {expected[:3]}... ({len(expected)})")

    def run(self) -> list[str]:
        self.ledger()
        self.fills_against_candles()
        self.entry_sizes()
        self.breaker()
        return self.violations


NOV_DEC_2021 = Path(__file__).resolve().parents[1] / "data" / "nov-dec-2021"

MONTHS = {
    # the bundled month (2021-04-20 → 05-20, the 05-19 crash included), a breaker tight enough to warn 22 times and trip
    "april-may": (None, {"warning_pct": "1", "daily_loss_pct": "2"}),
    # 2021-11-11 → 12-11 from a kline directory (replay --data), the 12-04 flash crash included: a calm month where most
    # signals are denied for a stop under 0.5 %, so the limits are tighter still (11 warnings, a drawdown trip)
    "nov-dec": (NOV_DEC_2021, {"warning_pct": "0.3", "daily_loss_pct": "1.5", "drawdown_pct": "1.5"}),
}


@pytest.fixture(scope="module", params=sorted(MONTHS))
def replayed_month(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """A month replayed into a fresh database, with both symbols and the month's breaker limits."""
    data_dir, breaker = MONTHS[request.param]
    db = tmp_path_factory.mktemp("oracle") / f"{request.param}.duckdb"
    settings = Settings(breaker=breaker)  # type: ignore[arg-type]
    summary = bundled_replay(settings, symbols=("BTCUSDT", "ETHUSDT"), data_dir=data_dir, db_path=db)
    assert summary.trades > 40 and summary.breaker_trips == 1
    return db, settings


def test_a_replayed_month_has_no_violation(replayed_month: tuple[Path, Settings]) -> None:
    db, settings = replayed_month
    with duckdb.connect(str(db), read_only=True) as con:
        violations = Oracle(con.cursor(), settings).run()
    assert violations == [], f"{len(violations)} violation(s):\n" + "\n".join(violations[:20])
