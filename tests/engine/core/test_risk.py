"""Position sizing from the stop distance (SPEC §3.2): risk 2 % of equity, value = risk ÷ stop distance,
capped at 20 % of equity and at the free cash less the taker fee; a stop closer than 0.5 % and an invalid
price are denials with stable reason codes, never exceptions."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from engine.core.risk import RiskDecision, SizingRules, size_entry

D = Decimal
RULES = SizingRules(risk_pct=2.0, max_position_pct=20.0, min_stop_pct=0.5, taker_fee_pct=0.1)
EQUITY = D("10000")


def size(stop: str, *, entry: str = "100", cash: str = "10000", equity: Decimal = EQUITY) -> RiskDecision:
    return size_entry(RULES, equity=equity, cash=D(cash), entry_price=D(entry), stop_price=D(stop))


def test_two_percent_stop_is_capped_at_twenty_percent_of_equity() -> None:
    decision = size("98")

    # risk 10,000 × 2 % = 200; stop distance (100 − 98) / 100 = 2 % → 200 / 0.02 = 10,000
    # cap 20 % × 10,000 = 2,000 → 2,000 / 100 = 20 units
    assert decision.allowed
    assert decision.reason_code == "OK"
    assert decision.quantity == D("20")


def test_five_percent_stop_is_capped_at_twenty_percent_of_equity() -> None:
    # 200 / 0.05 = 4,000 > 2,000 cap → 20 units at 100
    assert size("95").quantity == D("20")


def test_wide_stop_sizes_below_the_cap() -> None:
    decision = size("85")

    # 200 / 0.15 = 1,333.33… < 2,000 → 13.3333… units at 100
    assert decision.allowed
    assert decision.quantity.quantize(D("0.00000001")) == D("13.33333333")
    assert decision.quantity * 100 == pytest.approx(D("1333.333333"))


def test_sizing_scales_with_the_entry_price() -> None:
    # entry 30,000, stop 27,000 (10 %): 200 / 0.10 = 2,000 = the cap → 2,000 / 30,000 = 0.0666… BTC
    decision = size("27000", entry="30000")

    assert decision.quantity * 30000 == pytest.approx(D("2000"))


def test_stop_closer_than_half_a_percent_is_denied() -> None:
    decision = size("99.6")  # (100 − 99.6) / 100 = 0.4 %

    assert not decision.allowed
    assert decision.reason_code == "STOP_TOO_TIGHT"
    assert decision.quantity == D("0")


def test_stop_exactly_half_a_percent_away_is_allowed() -> None:
    decision = size("99.5")  # 0.5 %: 200 / 0.005 = 40,000 → capped 2,000 → 20 units

    assert decision.allowed
    assert decision.quantity == D("20")


@pytest.mark.parametrize("stop", ["100", "101"], ids=["at-entry", "above-entry"])
def test_stop_at_or_above_the_entry_is_denied(stop: str) -> None:
    assert size(stop).reason_code == "STOP_TOO_TIGHT"


def test_free_cash_caps_the_position_including_the_fee() -> None:
    decision = size("98", cash="1001")

    # 2,000 wanted, but cash 1,001 / (1 + 0.1 %) = 1,001 / 1.001 = 1,000 → 10 units; 1,000 + 1 fee = 1,001
    assert decision.allowed
    assert decision.quantity == D("10")


def test_no_cash_is_denied() -> None:
    decision = size("98", cash="0")

    assert not decision.allowed
    assert decision.reason_code == "NO_FREE_CASH"


@pytest.mark.parametrize(
    ("entry", "stop"),
    [
        ("0", "98"),
        ("-100", "98"),
        ("NaN", "98"),
        ("sNaN", "98"),
        ("Infinity", "98"),
        ("-Infinity", "98"),
        ("100", "0"),
        ("100", "-1"),
        ("100", "NaN"),
        ("100", "Infinity"),
    ],
)
def test_invalid_price_is_denied_not_raised(entry: str, stop: str) -> None:
    decision = size(stop, entry=entry)

    assert not decision.allowed
    assert decision.reason_code == "INVALID_PRICE"
    assert decision.quantity == D("0")


def test_decision_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        size("98").allowed = False  # type: ignore[misc]
