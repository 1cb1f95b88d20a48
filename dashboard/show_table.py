"""Draw a :class:`dashboard.tables.TableView` with ``st.dataframe``: each column's format and tooltip become its
``column_config`` (numbers as ``NumberColumn``, timestamps as ``DatetimeColumn``, the rest as text)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.tables import TableView


def show_table(view: TableView, *, key: str, empty: str, height: int | None = None) -> None:
    """``view`` as a dataframe without its index (``key`` names it for tests), or the caption ``empty`` when it has
    no rows. ``height`` in pixels (default: Streamlit's, up to ten rows)."""
    if view.frame.empty:
        st.caption(empty)
        return
    st.dataframe(
        view.frame, hide_index=True, key=key, column_config=column_config(view), height=height if height else "auto"
    )


def column_config(view: TableView) -> dict[str, Any]:
    """The ``column_config`` of ``view``'s formatted or explained columns."""
    config: dict[str, Any] = {}
    for name in view.frame.columns:
        fmt, tip = view.formats.get(name), view.help.get(name)
        if fmt is None and tip is None:
            continue
        dtype = view.frame[name].dtype
        if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            config[name] = st.column_config.DatetimeColumn(name, format=fmt, help=tip)
        elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            config[name] = st.column_config.NumberColumn(name, format=fmt, help=tip)
        else:
            config[name] = st.column_config.TextColumn(name, help=tip)
    return config
