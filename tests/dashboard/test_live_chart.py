"""The live chart element (``dashboard.live_chart``) in AppTest: it carries the figure's JSON and where plotly.js is
served locally, and its identity is its key, so a changed figure updates the same element instead of replacing it."""

from __future__ import annotations

import json
from typing import Any

from streamlit.testing.v1 import AppTest

from dashboard.live_chart import COMPONENT_NAME, PLOTLY_JS_URL

SCRIPT = """
import plotly.graph_objects as go
import streamlit as st
from dashboard.live_chart import live_chart

points = st.session_state.setdefault("points", [1, 2, 3])
live_chart(go.Figure(go.Scatter(y=points), layout={"uirevision": "kept"}), key="probe_chart")
"""


def _chart(at: AppTest) -> Any:
    [chart] = [e for e in at.get("bidi_component") if e.proto.component_name == COMPONENT_NAME]
    return chart


def test_a_chart_carries_its_figure_and_the_local_plotly_js() -> None:
    at = AppTest.from_string(SCRIPT).run()

    data = json.loads(_chart(at).proto.json)
    figure = json.loads(data["figure"])
    assert figure["layout"]["uirevision"] == "kept" and figure["data"][0]["type"] == "scatter"
    assert data["plotly"] == PLOTLY_JS_URL and PLOTLY_JS_URL.startswith("component/") and "://" not in PLOTLY_JS_URL


def test_a_changed_figure_keeps_the_element_identity_so_it_is_updated_in_place() -> None:
    at = AppTest.from_string(SCRIPT).run()
    first = _chart(at).proto

    at.session_state["points"] = [1, 2, 3, 4]
    at.run()
    second = _chart(at).proto

    assert second.json != first.json
    assert second.id == first.id
