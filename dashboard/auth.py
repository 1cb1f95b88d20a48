"""Who may use the controls (``../shared/SPEC.md`` §5, Security).

The admin token comes from ``st.secrets["admin_token"]`` (``.streamlit/secrets.toml``, git-ignored) or, failing
that, the environment variable ``PAPERTRADER_ADMIN_TOKEN``. The rules:

- a token is configured: every control asks for it (the sidebar's "Admin token" field, or the confirmation
  dialog's own, which falls back to the sidebar's) and acts only when the given value matches (compared in constant
  time, :func:`hmac.compare_digest`);
- no token and the server binds a local address (127.0.0.1, localhost, ::1): controls work without one;
- no token and the server binds anything else (including Streamlit's default, all interfaces): controls are
  disabled, with the reason shown;
- a secrets file exists but cannot be read or parsed (it may have been meant to set the token): controls are
  disabled, whatever the address or the environment, with the file and the problem shown (fail closed).

The token itself is never shown, logged, put into an error message or sent to the browser (no field is ever
pre-filled with it: a widget's value set by the server travels to the browser; what a person types only goes the
other way). The pure rules (:func:`control_gate`,
:func:`token_matches`, :func:`is_local_address`, :func:`secrets_problem`) take plain values and are unit-tested
without Streamlit.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from engine.config import ADMIN_TOKEN_ENV

TOKEN_ENV = ADMIN_TOKEN_ENV
SECRET_KEY = "admin_token"
TOKEN_INPUT_KEY = "admin_token_input"
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})
_QUOTED_CHARACTER = re.compile(r"(character) (?:'(?:[^'\\]|\\.)+'|\"(?:[^\"\\]|\\.)+\")")
"""tomllib quotes the offending character ("Found invalid character 'x'"), which may be a piece of a secret."""


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


def control_gate(*, token: str | None, address: str | None, secrets_error: str | None = None) -> Gate:
    """The rules of the module docstring, for a configured ``token`` (or ``None``), a bind ``address`` and
    ``secrets_error``: why an existing secrets file could not be loaded (``None`` when it loaded or there is none);
    it names the file and never holds a secret value (see :func:`secrets_problem`)."""
    if secrets_error is not None:
        return Gate(
            enabled=False,
            needs_token=False,
            why=f"Controls are disabled: {secrets_error}. The admin token may be set there, so no control works "
            "until the file is fixed (or removed); then reload the page.",
        )
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


def secrets_problem(error: BaseException, existing: Iterable[str]) -> str | None:
    """Why loading ``st.secrets`` failed with ``error``, as shown to the user, or ``None`` when it only failed because
    there is no secrets file (none of the configured paths exists: ``existing`` is empty).

    Streamlit raises ``StreamlitSecretNotFoundError`` both for no file and for a file that does not parse
    ("Error parsing secrets file at <path>: <problem> (at line L, column C)"), and lets ``OSError`` (a directory,
    permissions) and ``UnicodeDecodeError`` out of reading it; so a configured path that exists tells them apart.
    The result is one line naming the file(s); a character quoted by the TOML parser is dropped (it may belong to a
    secret).
    """
    paths = list(existing)
    if not paths:
        return None
    if isinstance(error, StreamlitSecretNotFoundError):
        text = str(error).strip()
    elif isinstance(error, OSError):
        text = f"cannot read the secrets file {', '.join(paths)}: {error.strerror or type(error).__name__}"
    elif isinstance(error, UnicodeDecodeError):
        text = f"cannot read the secrets file {', '.join(paths)}: not UTF-8 text (byte {error.start})"
    else:
        text = f"cannot load the secrets file {', '.join(paths)}: {type(error).__name__}"
    first_line = (text.splitlines() or [""])[0]
    return _QUOTED_CHARACTER.sub(r"\1", first_line)


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of the token a person typed with the configured one (False for ``None``/blank)."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


# ---------------------------------------------------------------------- Streamlit side
def _load_secrets() -> tuple[Mapping[str, object], str | None]:
    """``(st.secrets as a dict, None)``; ``({}, None)`` when there is no secrets file; ``({}, problem)`` when a
    secrets file exists but cannot be read or parsed (:func:`secrets_problem`)."""
    try:
        return dict(st.secrets), None
    except (StreamlitSecretNotFoundError, OSError, UnicodeDecodeError) as exc:
        configured = st.get_option("secrets.files") or []
        existing = [path for path in configured if os.path.exists(os.path.expanduser(path))]
        return {}, secrets_problem(exc, existing)


def admin_token() -> str | None:
    """The admin token of this process (:func:`configured_token` over the secrets and the environment), for the
    Runtime's operations endpoint; ``None`` when none is configured (a secrets file that cannot be read counts as
    none, so a non-loopback ``metrics.host`` is then refused unless the environment has one: fail closed)."""
    secrets, _problem = _load_secrets()
    return configured_token(secrets, os.environ)


def current_gate() -> Gate:
    """The gate for this process: secrets, environment and ``server.address``."""
    secrets, problem = _load_secrets()
    return control_gate(
        token=configured_token(secrets, os.environ), address=st.get_option("server.address"), secrets_error=problem
    )


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
    """A password field for a confirmation dialog (a modal covers the sidebar), always empty when drawn: a pre-filled
    value would be sent back to the browser. Returns what was typed there, else the sidebar's token; ``None`` when no
    token is needed."""
    if not gate.needs_token:
        return None
    sidebar = sidebar_token()
    typed = st.text_input(
        "Admin token", type="password", key=key, placeholder="the one in the sidebar, unless typed here" if sidebar else None
    )
    return typed or sidebar


def authorise(gate: Gate, *, given: str | None) -> str | None:
    """``None`` when a control may act with the token ``given``, else the reason it may not (never containing a
    token)."""
    if not gate.enabled:
        return gate.why
    if not gate.needs_token:
        return None
    secrets, problem = _load_secrets()
    if problem is not None:  # the file broke after the gate was computed
        return control_gate(token=None, address=None, secrets_error=problem).why
    expected = configured_token(secrets, os.environ)
    if expected is None:
        return None
    if not given:
        return "Enter the admin token first"
    if not token_matches(given, expected):
        return "Wrong admin token"
    return None
