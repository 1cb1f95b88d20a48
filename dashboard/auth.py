"""Who may use the controls (``../shared/SPEC.md`` §5, Security).

The admin token comes from ``st.secrets["admin_token"]`` (``.streamlit/secrets.toml``, git-ignored) or, failing
that, the environment variable ``PAPERTRADER_ADMIN_TOKEN``. The rules:

- a token is configured: every control asks for it (the sidebar's "Admin token" field, or the confirmation
  dialog's own, pre-filled from the sidebar) and acts only when the given value matches (compared in constant
  time, :func:`hmac.compare_digest`);
- no token and the server binds a local address (127.0.0.1, localhost, ::1): controls work without one;
- no token and the server binds anything else (including Streamlit's default, all interfaces): controls are
  disabled, with the reason shown.

The token itself is never shown, logged or put into an error message. The pure rules (:func:`control_gate`,
:func:`token_matches`, :func:`is_local_address`) take plain values and are unit-tested without Streamlit.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

TOKEN_ENV = "PAPERTRADER_ADMIN_TOKEN"
SECRET_KEY = "admin_token"
TOKEN_INPUT_KEY = "admin_token_input"
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class Gate:
    """What the controls may do in this process.

    ``enabled`` False: every control is disabled and ``why`` says so. ``needs_token`` True: a control acts only
    with the right admin token.
    """

    enabled: bool
    needs_token: bool
    why: str = ""


def is_local_address(address: str | None) -> bool:
    """True when ``address`` (Streamlit's ``server.address``) binds the loopback interface only.

    ``None`` or ``""`` (unset) is *not* local: Streamlit then listens on every interface.
    """
    return (address or "").strip().lower().strip("[]") in LOCAL_ADDRESSES


def configured_token(secrets: Mapping[str, object], environ: Mapping[str, str]) -> str | None:
    """The admin token: ``secrets["admin_token"]`` first, then ``environ["PAPERTRADER_ADMIN_TOKEN"]``; blank
    values count as unset (``None``)."""
    for value in (secrets.get(SECRET_KEY), environ.get(TOKEN_ENV)):
        if isinstance(value, str) and value.strip():
            return value
    return None


def control_gate(*, token: str | None, address: str | None) -> Gate:
    """The rules of the module docstring, for a configured ``token`` (or ``None``) and a bind ``address``."""
    if token is not None:
        return Gate(enabled=True, needs_token=True)
    if is_local_address(address):
        return Gate(enabled=True, needs_token=False)
    return Gate(
        enabled=False,
        needs_token=False,
        why=f"Controls are disabled: the dashboard is reachable on {address or 'every interface'} and no admin "
        f"token is configured. Set `{SECRET_KEY}` in .streamlit/secrets.toml or {TOKEN_ENV}, or bind 127.0.0.1.",
    )


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of the token a person typed with the configured one (False for ``None``/blank)."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


# ---------------------------------------------------------------------- Streamlit side
def _secrets() -> Mapping[str, object]:
    """``st.secrets`` as a mapping, or ``{}`` when there is no secrets file (or it cannot be parsed)."""
    try:
        return dict(st.secrets)
    except StreamlitSecretNotFoundError:  # no secrets.toml, or one that does not parse
        return {}


def current_gate() -> Gate:
    """The gate for this process: secrets, environment and ``server.address``."""
    return control_gate(token=configured_token(_secrets(), os.environ), address=st.get_option("server.address"))


def token_input(gate: Gate) -> None:
    """The sidebar's "Admin token" password field (key ``admin_token_input``) when a token is needed, or the reason
    the controls are off."""
    if gate.needs_token:
        st.text_input("Admin token", type="password", key=TOKEN_INPUT_KEY, help="Required by every control")
    elif not gate.enabled:
        st.warning(gate.why, icon=":material/lock:")


def sidebar_token() -> str | None:
    """What this session typed into the sidebar's "Admin token" field (``None`` before anything)."""
    return st.session_state.get(TOKEN_INPUT_KEY)


def dialog_token_input(gate: Gate, *, key: str) -> str | None:
    """A password field for a confirmation dialog (a modal covers the sidebar), pre-filled with the sidebar's value;
    ``None`` when no token is needed."""
    if not gate.needs_token:
        return None
    return st.text_input("Admin token", type="password", value=sidebar_token() or "", key=key)


def authorise(gate: Gate, *, given: str | None) -> str | None:
    """``None`` when a control may act with the token ``given``, else the reason it may not (never containing a
    token)."""
    if not gate.enabled:
        return gate.why
    if not gate.needs_token:
        return None
    expected = configured_token(_secrets(), os.environ)
    if expected is None:
        return None
    if not given:
        return "Enter the admin token first"
    if not token_matches(given, expected):
        return "Wrong admin token"
    return None
