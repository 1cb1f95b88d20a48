"""The admin-token rules of ``dashboard.auth`` as plain functions, no Streamlit session involved."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit import config as st_config
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.secrets import Secrets

from dashboard.auth import (
    TOKEN_ENV,
    configured_token,
    control_gate,
    current_gate,
    is_local_address,
    secrets_problem,
    token_matches,
)

SECRET = "s3cret-value-42"


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_addresses_are_local(address: str) -> None:
    assert is_local_address(address)


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "::", "192.168.1.10", "example.org"])
def test_unset_and_other_addresses_are_not_local(address: str | None) -> None:
    """Unset is not local: Streamlit then listens on every interface."""
    assert not is_local_address(address)


def test_token_comes_from_secrets_before_the_environment() -> None:
    assert configured_token({"admin_token": "from-secrets"}, {TOKEN_ENV: "from-env"}) == "from-secrets"
    assert configured_token({}, {TOKEN_ENV: "from-env"}) == "from-env"


def test_blank_tokens_count_as_unset() -> None:
    assert configured_token({"admin_token": "  "}, {TOKEN_ENV: ""}) is None
    assert configured_token({}, {}) is None


def test_token_match_is_exact() -> None:
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret")
    assert not token_matches("S3CRET", "s3cret")
    assert not token_matches("", "s3cret")
    assert not token_matches(None, "s3cret")


def test_a_configured_token_is_always_required() -> None:
    for address in ("127.0.0.1", "0.0.0.0", None):
        gate = control_gate(token="t", address=address)
        assert gate.enabled and gate.needs_token


def test_local_without_token_needs_none() -> None:
    gate = control_gate(token=None, address="127.0.0.1")
    assert gate.enabled and not gate.needs_token


def test_public_without_token_disables_controls_and_says_why() -> None:
    gate = control_gate(token=None, address="0.0.0.0")
    assert not gate.enabled
    assert "0.0.0.0" in gate.why and TOKEN_ENV in gate.why


# ---------------------------------------------------------------------------------------------- a broken secrets file
@pytest.mark.parametrize("token", ["t", None])
@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", None])
def test_a_broken_secrets_file_disables_the_controls_whatever_else(token: str | None, address: str | None) -> None:
    """Fail closed: the file may have been meant to set the token, so neither a local bind nor an environment
    token switches the controls on."""
    gate = control_gate(token=token, address=address, secrets_error="Error parsing secrets file at /x/secrets.toml: bad")

    assert not gate.enabled and not gate.needs_token
    assert gate.why.startswith("Controls are disabled: Error parsing secrets file at /x/secrets.toml: bad. ")


def _streamlit_parse_error(path: str, text: str) -> StreamlitSecretNotFoundError:
    """The exception Streamlit raises for a secrets file that does not parse (``runtime/secrets.py``)."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return StreamlitSecretNotFoundError("Error parsing secrets file at {path}: {error}", path=path, error=str(exc))
    raise AssertionError("the text parses")


def test_no_secrets_file_is_no_problem() -> None:
    missing = StreamlitSecretNotFoundError("No secrets found. Valid paths ...: {paths}", paths="/a, /b")

    assert secrets_problem(missing, existing=[]) is None


def test_a_parse_error_names_the_file_line_and_column() -> None:
    error = _streamlit_parse_error("/app/.streamlit/secrets.toml", f'admin_token "{SECRET}"\n')

    assert secrets_problem(error, existing=["/app/.streamlit/secrets.toml"]) == (
        "Error parsing secrets file at /app/.streamlit/secrets.toml: "
        "Expected '=' after a key in a key/value pair (at line 1, column 13)"
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"admin_token = '{SECRET}\x01'\n", id="found-invalid-character"),
        pytest.param(f'admin_token = "{SECRET}\x01"\n', id="illegal-character"),
    ],
)
def test_a_quoted_character_of_the_file_is_not_shown(text: str) -> None:
    error = _streamlit_parse_error("/s.toml", text)
    assert "character '" in str(error)  # tomllib does quote it

    problem = secrets_problem(error, existing=["/s.toml"])

    assert problem is not None and problem.startswith("Error parsing secrets file at /s.toml: ")
    assert "'" not in problem.removeprefix("Error parsing secrets file at /s.toml: ").split(" (at line")[0]


def test_read_errors_name_the_file() -> None:
    assert secrets_problem(IsADirectoryError(21, "Is a directory"), existing=["/s.toml"]) == (
        "cannot read the secrets file /s.toml: Is a directory"
    )
    undecodable = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    assert secrets_problem(undecodable, existing=["/s.toml"]) == "cannot read the secrets file /s.toml: not UTF-8 text (byte 0)"


@pytest.fixture
def secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``.streamlit/secrets.toml`` in ``tmp_path`` as Streamlit's only secrets file, a fresh ``st.secrets`` (nothing
    parsed yet) and a local bind; all restored afterwards."""
    path = tmp_path / ".streamlit" / "secrets.toml"
    path.parent.mkdir()
    monkeypatch.setattr(st, "secrets", Secrets())
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    saved = {name: st_config.get_option(name) for name in ("secrets.files", "server.address")}
    st_config.set_option("secrets.files", [str(path)])
    st_config.set_option("server.address", "127.0.0.1")
    yield path
    for name, value in saved.items():
        st_config.set_option(name, value)


def test_with_streamlit_a_missing_secrets_file_leaves_local_controls_on(secrets_file: Path) -> None:
    gate = current_gate()

    assert gate.enabled and not gate.needs_token


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(
            f'admin_token = "{SECRET}\n'.encode(),
            "Error parsing secrets file at {path}: Illegal character (at line 1, column 31)",  # '\\n', not shown
            id="newline-in-string",
        ),
        pytest.param(
            f'admin_token = "{SECRET}\xe9"\n'.encode("latin-1"),
            "cannot read the secrets file {path}: not UTF-8 text (byte 30)",
            id="not-utf8",
        ),
    ],
)
def test_with_streamlit_a_malformed_secrets_file_disables_local_controls(
    secrets_file: Path, content: bytes, problem: str
) -> None:
    secrets_file.write_bytes(content)

    gate = current_gate()

    assert not gate.enabled
    assert gate.why.startswith(f"Controls are disabled: {problem.format(path=secrets_file)}. ")
    assert SECRET not in gate.why


def test_with_streamlit_a_directory_as_secrets_file_disables_local_controls(secrets_file: Path) -> None:
    secrets_file.mkdir()

    gate = current_gate()

    assert not gate.enabled
    assert gate.why.startswith(f"Controls are disabled: cannot read the secrets file {secrets_file}: Is a directory. ")
