"""Arrow arrays built from their buffers (``pyarrow.Array.from_buffers``), never by ``pyarrow.array``.

``pyarrow.array`` imports pandas on its first call, whatever it converts (pyarrow 26 checks every argument, a list or
a numpy array alike, for pandas objects): ≈ 35 MB of peak RSS and ≈ 0.25 s of startup that a replay, which has no
use for pandas, would pay (measured on the bundled replay, ``benchmarks/replay_speed.py``). Everything the storage
layer and the replay hand to DuckDB is therefore built here, from numpy arrays (zero-copy where the array is
contiguous) or from short lists of Python values; ``Array.from_buffers``, ``DictionaryArray.from_arrays`` of such
arrays and ``pyarrow.compute.cast`` do not import pandas.

Layouts (Arrow columnar format, "Fixed-size primitive layout", "Variable-size binary layout", "Validity bitmaps"):
a fixed-width array is one values buffer; a ``string`` array an int32 offsets buffer (``n + 1`` offsets) and the
UTF-8 bytes; either may have a validity bitmap, least-significant bit first, a 1 bit for a value present.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pyarrow as pa


def _validity(null: np.ndarray | None) -> pa.Buffer | None:
    """The validity bitmap of a boolean mask ``null`` (``True``: NULL), or ``None`` when nothing is NULL."""
    if null is None or not null.any():
        return None
    return pa.py_buffer(np.packbits(~null, bitorder="little"))


def fixed(values: np.ndarray, arrow_type: pa.DataType, *, null: np.ndarray | None = None) -> pa.Array:
    """A 1-d numpy array as an Arrow array of the fixed-width ``arrow_type`` whose values have the same bytes
    (``int32``, ``int64``, ``float64``; ``timestamp("us", …)`` from int64 microseconds since the Unix epoch);
    zero-copy when ``values`` is contiguous. ``null`` (booleans, same length) marks NULLs, whose values are ignored.

    Raises:
        ValueError: ``values`` is not 1-d, its item size is not ``arrow_type``'s, or ``null`` has another length.
    """
    if values.ndim != 1 or values.itemsize * 8 != arrow_type.bit_width:
        raise ValueError(f"a 1-d array of {arrow_type.bit_width}-bit values makes {arrow_type}, not {values.dtype} {values.shape}")
    if null is not None and len(null) != len(values):
        raise ValueError(f"{len(null)} NULL flags for {len(values)} values")
    data = pa.py_buffer(np.ascontiguousarray(values))
    return pa.Array.from_buffers(arrow_type, len(values), [_validity(null), data])


def decimals(units: np.ndarray, arrow_type: pa.DataType, *, null: np.ndarray | None = None) -> pa.Array:
    """``units`` (int64: whole numbers of the type's last place, e.g. 10⁻⁸ for ``decimal128(38, 8)``) as a
    ``decimal128`` array, exactly: each value's 128-bit two's complement, little-endian (the low word, then the
    sign-extended high word). ``null`` as :func:`fixed`."""
    words = np.empty(2 * len(units), dtype=np.int64)
    words[0::2] = units
    words[1::2] = units >> 63
    return pa.Array.from_buffers(arrow_type, len(units), [_validity(null), pa.py_buffer(words)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """``values`` as an Arrow ``string`` array (``None``: NULL)."""
    n = len(values)
    null = None if None not in values else np.fromiter((v is None for v in values), dtype=bool, count=n)
    texts = cast("Sequence[str]", values) if null is None else ["" if v is None else v for v in values]
    joined = "".join(texts)
    if joined.isascii():  # one character, one byte: the lengths are the texts'
        data = joined.encode("ascii")
        lengths = np.fromiter(map(len, texts), dtype=np.int32, count=n)
    else:
        encoded = [text.encode() for text in texts]
        data = b"".join(encoded)
        lengths = np.fromiter(map(len, encoded), dtype=np.int32, count=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), n, [_validity(null), pa.py_buffer(offsets), pa.py_buffer(data)])


def dictionary(codes: np.ndarray, names: Sequence[str | None]) -> pa.DictionaryArray:
    """A dictionary-encoded ``string`` column: value ``i`` is ``names[codes[i]]`` (``codes`` integers, cast to
    int32)."""
    return pa.DictionaryArray.from_arrays(fixed(codes.astype(np.int32, copy=False), pa.int32()), strings(names))


def repeated(text: str, n: int) -> pa.DictionaryArray:
    """``text`` ``n`` times, dictionary-encoded."""
    return dictionary(np.zeros(n, dtype=np.int32), [text])
