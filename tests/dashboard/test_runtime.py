"""``dashboard.runtime.store_cursor``: a cursor on the started Runtime's store, a clear error before start."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dashboard.runtime import store_cursor
from storage.store import MEMORY, Store


def test_a_started_runtime_gives_a_cursor_on_its_store() -> None:
    store = Store(MEMORY)
    try:
        with store_cursor(SimpleNamespace(store=store)) as cur:
            assert cur.execute("SELECT 42").fetchone() == (42,)
    finally:
        store.close()


def test_a_runtime_without_a_store_is_refused() -> None:
    with pytest.raises(RuntimeError, match="has not been started"):
        store_cursor(SimpleNamespace(store=None))
