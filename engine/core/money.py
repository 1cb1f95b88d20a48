"""Exact money: every amount, price, quantity and percentage that enters the arithmetic is a :class:`decimal.Decimal`.

Decimals come from the exchange's decimal strings, from the configuration (pydantic reads a TOML ``0.1`` as the
decimal 0.1) and from the database's ``DECIMAL(38, 8)`` columns — never through binary floating point. Floats are
kept for what is float by nature: indicators (the ATR), chart series and display percentages. Where a float must
enter the arithmetic (the ATR in a stop distance) it goes through its shortest repr, as :func:`exact` does.
"""

from __future__ import annotations

from decimal import Decimal

HUNDRED = Decimal(100)


def exact(value: Decimal | float | int) -> Decimal:
    """``value`` as an exact decimal; a float through its shortest repr (``0.1`` becomes ``Decimal("0.1")``)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)
