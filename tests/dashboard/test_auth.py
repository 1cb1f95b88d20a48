"""The admin-token rules of ``dashboard.auth`` as plain functions, no Streamlit session involved."""

from __future__ import annotations

import pytest

from dashboard.auth import (
    TOKEN_ENV,
    configured_token,
    control_gate,
    is_local_address,
    token_matches,
)


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
