"""Errors at the edges, as the dashboard shows them (``streamlit.testing.v1.AppTest``): a broken configuration or a
database that is not papertrader's stops the page with one ``st.error``; a secrets file that does not parse
disables every control with the reason in the sidebar (fail closed), never showing a secret."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit import config as st_config
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
SECRET = "s3cret-admin-token-in-a-broken-file"


def _run() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30).run()


def test_an_unknown_environment_variable_stops_the_page_naming_it(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERTRADER_TRADINGX__RISK_PCT", "2")

    at = _run()

    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "**Invalid configuration**: PAPERTRADER_TRADINGX__RISK_PCT: unknown section 'tradingx' "
        "(sections: venue, sim, storage, strategy, trading, breaker, risk, rest, stream, alerts, metrics)"
    ]
    assert not db_path.exists()


def test_a_toml_syntax_error_stops_the_page_naming_file_line_and_column(db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "papertrader.toml").write_text("[trading]\nrisk_pct 1.0\n", encoding="utf-8")

    at = _run()

    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "**Invalid configuration**: papertrader.toml: Expected '=' after a key in a key/value pair (at line 2, column 10)"
    ]


def test_a_database_of_another_program_stops_the_page_and_is_left_unchanged(db_path: Path) -> None:
    with duckdb.connect(str(db_path)) as con:
        con.execute("CREATE TABLE customers AS SELECT 1 AS id")
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()

    at = _run()

    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        f"**Cannot open the database**: {db_path} is not a papertrader database (a DuckDB database with 1 table and "
        "no papertrader schema_version); move it away or choose another storage.path"
    ]
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


@pytest.fixture
def broken_secrets(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``.streamlit/secrets.toml`` that does not parse (an unclosed string holding the token), as Streamlit's only
    secrets file, behind a fresh ``st.secrets``."""
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    path.write_text(f'admin_token = "{SECRET}\n', encoding="utf-8")
    monkeypatch.setattr(st, "secrets", Secrets())
    files = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(path)])
    yield path
    st_config.set_option("secrets.files", files)


def test_a_secrets_file_that_does_not_parse_disables_every_control(broken_secrets: Path, db_path: Path) -> None:
    """On 127.0.0.1 without a token the controls would work; a broken secrets file switches them off instead of
    being taken as "no token", and says which file and what is wrong."""
    at = _run()

    assert not at.exception, at.exception
    assert all(at.button(key=key).disabled for key in ("pause_resume", "reset_breaker", "flatten"))
    [warning] = at.sidebar.warning
    assert warning.value.startswith(
        f"Controls are disabled: Error parsing secrets file at {broken_secrets}: Illegal character (at line 1, column "
    )
    assert SECRET not in str(at)
