"""TextColumn: a sequence of str over one Arrow string array; slices share the buffers; no pandas import."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.text_column import TextColumn

ascii_texts = st.lists(st.text(alphabet="0123456789.-e", max_size=12), max_size=40)


@given(ascii_texts, st.integers(-50, 50), st.integers(-50, 50))
def test_it_reads_back_exactly_what_it_was_given(values: list[str], start: int, stop: int) -> None:
    column = TextColumn.of(values)
    assert len(column) == len(values) and list(column) == values
    assert [column[i] for i in range(-len(values), len(values))] == values + values
    window = column[start:stop]
    assert list(window) == values[start:stop] and len(window) == len(values[start:stop])
    assert [window[i] for i in range(len(window))] == values[start:stop]
    assert window.arrow.to_pylist() == values[start:stop]


def test_an_index_outside_is_an_index_error() -> None:
    column = TextColumn.of(["1", "2"])
    with pytest.raises(IndexError, match=r"outside 0\.\.1"):
        column[2]
    with pytest.raises(IndexError):
        column[1:][1]


def test_an_arrow_column_is_taken_as_it_is() -> None:
    arrow = pa.array(["1.5", "22", "333.25"], type=pa.string()).slice(1)
    column = TextColumn(arrow)
    assert column.arrow is arrow and list(column) == ["22", "333.25"]
    assert TextColumn.of(column) is column


def test_what_is_not_a_text_column_is_refused() -> None:
    with pytest.raises(ValueError, match="string array"):
        TextColumn(pa.array([1, 2]))
    with pytest.raises(ValueError, match="NULL"):
        TextColumn(pa.array(["1", None], type=pa.string()))
    with pytest.raises(UnicodeEncodeError):
        TextColumn.of(["1", "€"])
    with pytest.raises(ValueError, match="step 1"):
        TextColumn.of(["1", "2"])[::2]


def test_loading_a_bundled_dataset_does_not_import_pandas() -> None:
    # pyarrow.array() imports pandas (≈ 0.3 s) on its first call; a replay's start must not pay for it here
    code = (
        "import sys\n"
        "from simulator.dataset import load_candles\n"
        "ds = load_candles('BTCUSDT')\n"
        "assert ds.close[5] and len(ds.close.arrow) == len(ds)\n"
        "print('pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
