"""Arrow arrays built from their buffers: the same arrays as ``pyarrow.array`` makes, NULLs included, and no pandas
import."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from storage.arrays import decimals, dictionary, fixed, repeated, strings

US = pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize(
    ("values", "arrow_type"),
    [
        (np.array([1.5, -2.25, 0.0]), pa.float64()),
        (np.array([7, -(2**31), 2**31 - 1], dtype=np.int32), pa.int32()),
        (np.array([0, 1_618_876_800_000_000, -1], dtype=np.int64), US),
    ],
)
def test_fixed_width_values_keep_their_bytes_and_nulls_are_masked(values: np.ndarray, arrow_type: pa.DataType) -> None:
    assert fixed(values, arrow_type).equals(pa.array(values, type=arrow_type))
    null = np.array([False, True, False])
    masked = fixed(values, arrow_type, null=null)
    assert masked.equals(pa.array(values, type=arrow_type, mask=null))
    assert masked.null_count == 1


def test_a_strided_view_is_copied_into_place() -> None:
    grid = np.arange(12, dtype=np.int64).reshape(4, 3)
    assert fixed(grid[:, 1], pa.int64()).to_pylist() == [1, 4, 7, 10]


def test_a_wrong_width_or_mask_is_refused() -> None:
    with pytest.raises(ValueError, match="64-bit values"):
        fixed(np.zeros(2, dtype=np.int32), pa.int64())
    with pytest.raises(ValueError, match="1 NULL flags for 2 values"):
        fixed(np.zeros(2), pa.float64(), null=np.array([True]))


def test_decimals_from_units_are_exact_with_nulls() -> None:
    units = np.array([123_456_789_012, -1, 2**63 - 1, 0], dtype=np.int64)
    array = decimals(units, pa.decimal128(38, 8), null=np.array([False, False, False, True]))
    assert array.to_pylist() == [Decimal("1234.56789012"), Decimal("-1E-8"), Decimal("92233720368.54775807"), None]


def test_strings_take_any_unicode_and_none() -> None:
    values = ["BTCUSDT", None, "", "€uro", "x" * 1000]
    assert strings(values).equals(pa.array(values, type=pa.string()))
    assert strings([]).equals(pa.array([], type=pa.string()))


def test_dictionary_and_repeated_columns() -> None:
    column = dictionary(np.array([1, 0, 2, 1]), ["BTCUSDT", "ETHUSDT", None])
    assert column.to_pylist() == ["ETHUSDT", "BTCUSDT", None, "ETHUSDT"]
    assert column.type == pa.dictionary(pa.int32(), pa.string())
    assert repeated("1m", 3).to_pylist() == ["1m"] * 3


def test_building_arrays_does_not_import_pandas() -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import pyarrow as pa\n"
        "from storage.arrays import decimals, dictionary, fixed, strings\n"
        "fixed(np.arange(3.0), pa.float64(), null=np.array([True, False, False]))\n"
        "decimals(np.arange(3), pa.decimal128(38, 8))\n"
        "dictionary(np.zeros(3, dtype=np.int64), [strings(['a']).to_pylist()[0]])\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
