"""A column of short ASCII texts (a dataset's decimal prices and volumes) kept as one Arrow ``string`` array.

A month of 1m candles is ≈ 43,000 rows × 5 price/volume columns per symbol; as Python ``str`` objects that is ≈ 60
bytes a value (≈ 13 MB a symbol), as an Arrow string array ≈ 13 bytes (the text and a 4-byte offset). Whole-column
work (a replay's parse to float and exact units) takes :attr:`TextColumn.arrow` as it is; one value is read back as a
``str`` by slicing the text buffer (≈ 0.2 µs).

Built without ``pyarrow.array`` (``Array.from_buffers``), which would import pandas (≈ 0.3 s, ≈ 30 MB) on its first
call.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import overload

import pyarrow as pa


class TextColumn(Sequence[str]):
    """An immutable sequence of ASCII strings over an Arrow ``string`` array; slices share the buffers.

    Args:
        arrow: the values (no NULLs).

    Raises:
        ValueError: ``arrow`` is not of type ``string`` or holds a NULL.
    """

    __slots__ = ("_arrow", "_data", "_n", "_offsets", "_start")

    def __init__(self, arrow: pa.Array) -> None:
        if arrow.type != pa.string():
            raise ValueError(f"a text column needs an Arrow string array, not {arrow.type}")
        if arrow.null_count:
            raise ValueError("a text column cannot hold NULL")
        _, offsets, data = arrow.buffers()
        self._arrow = arrow
        self._offsets = memoryview(offsets).cast("i")  # int32: the text of value i is data[o[s+i]:o[s+i+1]]
        self._data = b"" if data is None else data.to_pybytes()
        self._start = arrow.offset
        self._n = len(arrow)

    @classmethod
    def of(cls, values: Iterable[str]) -> TextColumn:
        """The column of ``values`` (a :class:`TextColumn` is returned as it is).

        Raises:
            UnicodeEncodeError: a value that is not ASCII.
        """
        if isinstance(values, TextColumn):
            return values
        encoded = [value.encode("ascii") for value in values]
        offsets = pa.py_buffer(array("i", accumulate(map(len, encoded), initial=0)).tobytes())
        return cls(pa.Array.from_buffers(pa.string(), len(encoded), [None, offsets, pa.py_buffer(b"".join(encoded))]))

    @property
    def arrow(self) -> pa.Array:
        """The values as an Arrow ``string`` array (zero-copy)."""
        return self._arrow

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> TextColumn: ...

    def __getitem__(self, index: int | slice) -> str | TextColumn:
        if index.__class__ is int and 0 <= index < self._n:  # the hot path: one value
            o, i = self._offsets, self._start + index
            return self._data[o[i] : o[i + 1]].decode("ascii")
        if isinstance(index, slice):
            start, stop, step = index.indices(self._n)
            if step != 1:
                raise ValueError("a text column slices with step 1 only")
            view = TextColumn.__new__(TextColumn)  # the same buffers, a window on them
            view._arrow = self._arrow.slice(start, max(0, stop - start))
            view._offsets, view._data, view._start, view._n = self._offsets, self._data, self._start + start, len(view._arrow)
            return view
        if -self._n <= index < 0:
            return self[index + self._n]
        raise IndexError(f"text column index {index} outside 0..{self._n - 1}")

    def __iter__(self) -> Iterator[str]:
        o, data, s = self._offsets, self._data, self._start
        for i in range(s, s + self._n):
            yield data[o[i] : o[i + 1]].decode("ascii")

    def __repr__(self) -> str:
        shown = ", ".join(repr(v) for v in self[:3])
        return f"TextColumn([{shown}{', …' if len(self) > 3 else ''}], n={len(self)})"
