"""A table view's formats and tooltips become Streamlit column configs of the right kind."""

from __future__ import annotations

import pandas as pd

from dashboard.show_table import column_config
from dashboard.tables import TableView


def test_numbers_times_and_text_get_their_column_kinds() -> None:
    view = TableView(
        pd.DataFrame({
            "Price": [1.5], "When": pd.to_datetime(["2021-04-22 18:00"], utc=True), "Reason": ["STOP"], "Plain": [1],
        }),
        {"Price": "%,.2f", "When": "YYYY-MM-DD HH:mm:ss"},
        {"Reason": "Why it closed"},
    )

    config = column_config(view)

    assert set(config) == {"Price", "When", "Reason"}  # an unformatted, unexplained column keeps Streamlit's default
    price, when = config["Price"]["type_config"], config["When"]["type_config"]
    assert (price["type"], price["format"]) == ("number", "%,.2f")
    assert (when["type"], when["format"]) == ("datetime", "YYYY-MM-DD HH:mm:ss")
    assert config["Reason"]["help"] == "Why it closed" and config["Reason"]["type_config"]["type"] == "text"
