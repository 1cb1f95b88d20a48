"""Pre-trade checks (SPEC §3.2): price validation, breaker/pause/position/trade limits, sizing caps and correlation
scaling 1.0 → 0.7 → 0.5 → deny; each denial is a value with a stable reason code, and the first failing check (in the
documented order) wins. Numbers are computed by hand in the comments."""

from __future__ import annotations

import math
from collections.abc import Collection
from decimal import Decimal

import pytest

from engine.core.risk import (
    DEFAULT_MAX_PRICE_AGE_MS,
    DailyTradeCounter,
    ReasonCode,
    RiskDecision,
    RiskLimits,
    SizingRules,
    check_entry,
    parse_price,
    validate_price,
)

D = Decimal
NOW = 1_700_006_460_000  # 2023-11-15 00:01:00 UTC
DAY_START = 1_700_006_400_000  # 2023-11-15 00:00:00 UTC
DAY_MS = 86_400_000
LIMITS = RiskLimits()  # 3 positions, 50 entries/day, scale (1.0, 0.7, 0.5), risk 2 %, cap 20 %, min stop 0.5 %, fee 0.1 %
WIDE = RiskLimits(max_open_positions=5)  # lets the correlation limit be reached before MAX_POSITIONS


def entry(
    limits: RiskLimits = LIMITS,
    *,
    symbol: str = "BTCUSDT",
    price: object = "100",
    stop: object = "98",
    equity: str = "10000",
    cash: str = "10000",
    open_positions: Collection[str] = (),
    trades_today: int = 0,
    paused: bool = False,
    breaker_allows: bool = True,
    price_time_ms: int = NOW,
    data_gap: bool = False,
) -> RiskDecision:
    return check_entry(
        limits,
        symbol=symbol,
        entry_price=price,
        stop_price=stop,
        equity=D(equity),
        cash=D(cash),
        open_positions=open_positions,
        trades_today=trades_today,
        paused=paused,
        breaker_allows=breaker_allows,
        now_ms=NOW,
        price_time_ms=price_time_ms,
        data_gap=data_gap,
    )


# ---------------------------------------------------------------- price validation
@pytest.mark.parametrize(
    "value",
    [
        0, -1, D("0"), D("-0"), "0", "-1", math.nan, math.inf, -math.inf, D("NaN"), D("sNaN"), D("Infinity"),
        "NaN", "inf", "-Infinity", "abc", "", "1,5", None, True, [100], b"100",
    ],
    ids=repr,
)
def test_invalid_prices_are_denied(value: object) -> None:
    decision = validate_price(value, now_ms=NOW, price_time_ms=NOW, max_age_ms=DEFAULT_MAX_PRICE_AGE_MS)

    assert (decision.allowed, decision.reason_code, decision.quantity) == (False, ReasonCode.INVALID_PRICE, D(0))
    assert parse_price(value) is None  # never falls back to 0


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("100.5", D("100.5")), (" 42 ", D("42")), (100, D("100")), (0.1, D("0.1")), (D("0.00000001"), D("0.00000001"))],
    ids=repr,
)
def test_fresh_valid_prices_pass(value: object, parsed: Decimal) -> None:
    assert validate_price(value, now_ms=NOW, price_time_ms=NOW - 60_000).reason_code == ReasonCode.OK
    assert parse_price(value) == parsed


@pytest.mark.parametrize(
    ("age_ms", "code"),
    [
        (0, ReasonCode.OK),
        (120_000, ReasonCode.OK),  # exactly 2 × 60 s: still fresh
        (120_001, ReasonCode.STALE_PRICE),  # 1 ms past the limit
        (3_600_000, ReasonCode.STALE_PRICE),
        (-5_000, ReasonCode.OK),  # stamped 5 s after now (clock skew): not stale
    ],
)
def test_stale_prices_are_denied(age_ms: int, code: ReasonCode) -> None:
    assert DEFAULT_MAX_PRICE_AGE_MS == 120_000
    assert validate_price("100", now_ms=NOW, price_time_ms=NOW - age_ms).reason_code == code


def test_an_invalid_price_is_reported_as_invalid_even_when_stale() -> None:
    assert validate_price("abc", now_ms=NOW, price_time_ms=0).reason_code == ReasonCode.INVALID_PRICE


def test_max_age_is_configurable() -> None:
    assert validate_price("100", now_ms=NOW, price_time_ms=NOW - 10_000, max_age_ms=5_000).reason_code == ReasonCode.STALE_PRICE


# ---------------------------------------------------------------- each reason code
def test_an_entry_within_every_limit_is_sized() -> None:
    decision = entry()

    # risk 10,000 × 2 % = 200; stop 2 % → 10,000; cap 20 % = 2,000 → 20 units at 100; first position × 1.0
    assert (decision.allowed, decision.reason_code, decision.quantity) == (True, ReasonCode.OK, D("20"))


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"breaker_allows": False}, ReasonCode.BREAKER_TRIPPED),
        ({"paused": True}, ReasonCode.PAUSED),
        ({"data_gap": True}, ReasonCode.DATA_GAP),
        ({"price": "0"}, ReasonCode.INVALID_PRICE),
        ({"price": "abc"}, ReasonCode.INVALID_PRICE),
        ({"price": None}, ReasonCode.INVALID_PRICE),
        ({"stop": "abc"}, ReasonCode.INVALID_PRICE),
        ({"stop": math.nan}, ReasonCode.INVALID_PRICE),
        ({"price_time_ms": NOW - 120_001}, ReasonCode.STALE_PRICE),
        ({"open_positions": ("BTCUSDT",)}, ReasonCode.POSITION_EXISTS),
        ({"open_positions": ("ETHUSDT", "SOLUSDT", "BNBUSDT")}, ReasonCode.MAX_POSITIONS),
        ({"trades_today": 50}, ReasonCode.MAX_TRADES_PER_DAY),
        ({"stop": "99.6"}, ReasonCode.STOP_TOO_TIGHT),  # (100 − 99.6) / 100 = 0.4 % < 0.5 %
        ({"stop": "100"}, ReasonCode.STOP_TOO_TIGHT),
        ({"cash": "0"}, ReasonCode.NO_FREE_CASH),
    ],
    ids=lambda v: str(v),
)
def test_each_denial_has_its_reason_code(kwargs: dict, code: ReasonCode) -> None:
    decision = entry(**kwargs)

    assert (decision.allowed, decision.reason_code, decision.quantity) == (False, code, D(0))
    assert decision.detail


def test_correlation_limit_denies_an_entry_past_the_scale() -> None:
    decision = entry(WIDE, open_positions=("ETHUSDT", "SOLUSDT", "BNBUSDT"))  # 4th position; scale has 3 factors

    assert (decision.allowed, decision.reason_code) == (False, ReasonCode.CORRELATION_LIMIT)


def test_trades_per_day_limit_boundary() -> None:
    assert entry(trades_today=49).allowed  # 49 < 50
    assert entry(trades_today=50).reason_code == ReasonCode.MAX_TRADES_PER_DAY
    assert entry(RiskLimits(max_trades_per_day=0)).reason_code == ReasonCode.MAX_TRADES_PER_DAY


def test_max_open_positions_boundary() -> None:
    assert entry(open_positions=("ETHUSDT", "SOLUSDT")).allowed  # 2 < 3
    assert entry(open_positions=("ETHUSDT", "SOLUSDT", "BNBUSDT")).reason_code == ReasonCode.MAX_POSITIONS


# ---------------------------------------------------------------- order of the checks
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        # everything wrong at once: the breaker is checked first
        (
            {"breaker_allows": False, "paused": True, "price": "abc", "open_positions": ("BTCUSDT",), "trades_today": 99},
            ReasonCode.BREAKER_TRIPPED,
        ),
        ({"paused": True, "data_gap": True, "price": "abc", "open_positions": ("BTCUSDT",)}, ReasonCode.PAUSED),
        ({"data_gap": True, "price": "abc", "open_positions": ("BTCUSDT",)}, ReasonCode.DATA_GAP),
        ({"price": "abc", "open_positions": ("BTCUSDT",)}, ReasonCode.INVALID_PRICE),
        ({"price_time_ms": 0, "open_positions": ("BTCUSDT",)}, ReasonCode.STALE_PRICE),
        ({"open_positions": ("BTCUSDT", "ETHUSDT", "SOLUSDT"), "trades_today": 99}, ReasonCode.POSITION_EXISTS),
        ({"open_positions": ("ETHUSDT", "SOLUSDT", "BNBUSDT"), "trades_today": 99}, ReasonCode.MAX_POSITIONS),
        ({"trades_today": 99, "stop": "99.9"}, ReasonCode.MAX_TRADES_PER_DAY),
        ({"stop": "99.9", "cash": "0"}, ReasonCode.STOP_TOO_TIGHT),
    ],
    ids=["breaker", "paused", "data-gap", "price", "stale", "position", "max-positions", "trades", "sizing"],
)
def test_the_first_failing_check_wins(kwargs: dict, code: ReasonCode) -> None:
    assert entry(**kwargs).reason_code == code


def test_sizing_is_checked_before_correlation() -> None:
    decision = entry(WIDE, stop="99.9", open_positions=("ETHUSDT", "SOLUSDT", "BNBUSDT"))  # 0.1 % stop, 4th position
    assert decision.reason_code == ReasonCode.STOP_TOO_TIGHT


# ---------------------------------------------------------------- sizing caps and correlation scaling
@pytest.mark.parametrize(
    ("open_positions", "quantity"),
    [
        ((), D("20")),  # 2,000 / 100 = 20 × 1.0
        (("ETHUSDT",), D("14")),  # 20 × 0.7
        (("ETHUSDT", "SOLUSDT"), D("10")),  # 20 × 0.5
    ],
    ids=["1st-1.0", "2nd-0.7", "3rd-0.5"],
)
def test_correlation_scales_the_size(open_positions: tuple[str, ...], quantity: Decimal) -> None:
    decision = entry(WIDE, open_positions=open_positions)

    assert decision.allowed
    assert decision.quantity == quantity


def test_wide_stop_sizes_below_the_cap_then_scales() -> None:
    alone = entry(stop="85")
    second = entry(stop="85", open_positions=("ETHUSDT",))

    # 200 / 0.15 = 1,333.33… < 2,000 cap → 13.333… units; as the 2nd position × 0.7 = 9.333…
    assert alone.quantity * 100 == pytest.approx(D("1333.333333"))
    assert second.quantity * 100 == pytest.approx(D("933.333333"))


def test_free_cash_cap_then_scale() -> None:
    decision = entry(cash="1001", open_positions=("ETHUSDT", "SOLUSDT"))

    # cap by cash: 1,001 / 1.001 = 1,000 → 10 units; 3rd position × 0.5 = 5 units (500 + 0.5 fee ≤ 1,001)
    assert decision.quantity == D("5")


def test_equity_drives_the_cap() -> None:
    decision = entry(equity="5000", cash="5000")

    # risk 5,000 × 2 % = 100; / 2 % = 5,000; cap 20 % × 5,000 = 1,000 → 10 units at 100
    assert decision.quantity == D("10")


def test_a_custom_scale_and_sizing_are_used() -> None:
    limits = RiskLimits(correlation_scale=(0.5,), sizing=SizingRules(risk_pct=1.0, max_position_pct=50.0))

    # risk 10,000 × 1 % = 100; / 2 % = 5,000 < cap 5,000 (50 %) → 50 units × 0.5 = 25; 2nd position: denied
    assert entry(limits).quantity == D("25")
    assert entry(limits, open_positions=("ETHUSDT",)).reason_code == ReasonCode.CORRELATION_LIMIT


@pytest.mark.parametrize(
    "kwargs",
    [
        {"correlation_scale": ()}, {"correlation_scale": (1.0, 0.0)}, {"correlation_scale": (1.5,)},
        {"max_open_positions": -1}, {"max_trades_per_day": -1},
    ],
    ids=str,
)
def test_invalid_limits_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        RiskLimits(**kwargs)


def test_reason_codes_are_stable_strings() -> None:
    assert {c.value for c in ReasonCode} == {
        "OK",
        "BREAKER_TRIPPED",
        "PAUSED",
        "DATA_GAP",
        "INVALID_PRICE",
        "STALE_PRICE",
        "POSITION_EXISTS",
        "MAX_POSITIONS",
        "MAX_TRADES_PER_DAY",
        "STOP_TOO_TIGHT",
        "NO_FREE_CASH",
        "CORRELATION_LIMIT",
    }
    assert all(c == c.value for c in ReasonCode)  # compare equal to plain strings (stored as text)


# ---------------------------------------------------------------- trades per UTC day
def test_trade_counter_counts_within_the_utc_day() -> None:
    counter = DailyTradeCounter()

    assert counter.count(NOW) == 0
    assert [counter.record(NOW + k * 60_000) for k in range(3)] == [1, 2, 3]
    assert counter.count(DAY_START + DAY_MS - 1) == 3  # 23:59:59.999 the same day


def test_trade_counter_rolls_over_at_midnight_utc() -> None:
    counter = DailyTradeCounter()
    counter.record(DAY_START + DAY_MS - 1)  # 23:59:59.999

    assert counter.count(DAY_START + DAY_MS) == 0  # 00:00:00.000 next day
    assert counter.record(DAY_START + DAY_MS) == 1


def test_trade_counter_ignores_an_entry_from_a_past_day() -> None:
    counter = DailyTradeCounter()
    counter.record(DAY_START + DAY_MS)  # next day: 1

    assert counter.record(DAY_START + 5) == 1  # out of order, previous day: today's count unchanged
    assert counter.count(DAY_START + DAY_MS + 1) == 1


def test_trade_counter_restores_a_stored_count() -> None:
    counter = DailyTradeCounter(day_index=DAY_START // DAY_MS, count=49)

    assert counter.count(NOW) == 49
    assert entry(trades_today=counter.count(NOW)).allowed
    counter.record(NOW)
    assert entry(trades_today=counter.count(NOW)).reason_code == ReasonCode.MAX_TRADES_PER_DAY
