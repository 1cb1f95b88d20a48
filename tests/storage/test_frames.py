"""Display tables: DECIMAL money becomes the nearest float, every other column is left as it is."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pyarrow as pa

from storage.frames import display_table


def test_decimal_columns_become_the_nearest_double_and_the_rest_stay() -> None:
    con = duckdb.connect()
    table = display_table(
        con,
        'SELECT 9900.3::DECIMAL(38, 8) AS equity, $cash::DECIMAL(38, 8) AS "cash ""free""", 7 AS n, \'BTCUSDT\' AS symbol',
        {"cash": Decimal("0.1")},
    )

    assert table.schema.types == [pa.float64(), pa.float64(), pa.int32(), pa.string()]
    # Arrow's own decimal → double cast gives 9900.300000000001 here; the nearest double prints as 9900.3
    assert table.to_pylist() == [{"equity": 9900.3, 'cash "free"': 0.1, "n": 7, "symbol": "BTCUSDT"}]
