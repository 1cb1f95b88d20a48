"""Webhooks: where alerts are POSTed and in which body format (``[[alerts.webhooks]]``).

Payloads per :attr:`Webhook.format` (:func:`payload`):

- ``json``: ``{"kind", "severity", "title", "text", "fields", "time"}`` (``time`` ISO 8601 UTC);
- ``slack``: ``{"text": ...}`` (Slack incoming webhooks, mrkdwn);
- ``discord``: ``{"content": ...}`` (Discord "Execute Webhook", at most 2000 characters);
- ``telegram``: ``{"chat_id", "text"}`` for the Bot API ``sendMessage`` method (at most 4096 characters), POSTed to
  the configured URL (``https://api.telegram.org/bot<token>/sendMessage``).

Webhook URLs hold tokens: they are only read where the request is sent. Logs and ``api_calls`` rows name the host
and the endpoint label ``webhook:<format>``, never the URL; httpx's own request log line (logger ``httpx``, INFO)
has the path and query of every webhook replaced by ``/<redacted>`` (:class:`RedactWebhookUrls`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from engine.config import WebhookSettings
from engine.sinks.alerts import Alert

log = logging.getLogger(__name__)

Format = Literal["json", "slack", "discord", "telegram"]

DISCORD_MAX_CHARS = 2000
"""Discord webhooks: ``content`` is at most 2000 characters."""
TELEGRAM_MAX_CHARS = 4096
"""Telegram Bot API ``sendMessage``: ``text`` is 1-4096 characters."""

_LOG_LEVEL = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


@dataclass(frozen=True)
class Webhook:
    """Where and how to POST alerts. ``url`` may hold a token: never log it (use :attr:`host`)."""

    url: str
    format: Format = "json"
    chat_id: str | None = None

    @property
    def host(self) -> str:
        """``host[:port]`` of the URL, without credentials, path or query."""
        url = httpx.URL(self.url)
        return f"{url.host}:{url.port}" if url.port is not None else url.host

    @property
    def endpoint(self) -> str:
        """Label for telemetry (``api_calls.endpoint``): ``webhook:<format>``."""
        return f"webhook:{self.format}"

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> Webhook:
        return cls(url=settings.url.get_secret_value(), format=settings.format, chat_id=settings.chat_id)

    def __repr__(self) -> str:  # the URL is secret
        return f"Webhook(host={self.host!r}, format={self.format!r})"


def message_text(alert: Alert) -> str:
    """Plain text for chat formats: title, text, then one ``key: value`` line per field."""
    lines = [alert.title, alert.text, *(f"{key}: {value}" for key, value in alert.fields.items())]
    return "\n".join(lines)


def payload(alert: Alert, webhook: Webhook) -> dict[str, Any]:
    """The JSON body for ``webhook.format`` (shapes in the module docstring)."""
    match webhook.format:
        case "slack":
            details = "\n".join(f"• {key}: {value}" for key, value in alert.fields.items())
            return {"text": f"*{alert.title}*\n{alert.text}\n{details}".rstrip()}
        case "discord":
            return {"content": _truncate(message_text(alert), DISCORD_MAX_CHARS)}
        case "telegram":
            return {"chat_id": webhook.chat_id, "text": _truncate(message_text(alert), TELEGRAM_MAX_CHARS)}
    return {
        "kind": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "text": alert.text,
        "fields": json.loads(json.dumps(alert.fields, default=str)),
        "time": alert.time.isoformat(),
    }


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactWebhookUrls(logging.Filter):
    """Replaces the secret part (path and query) of known webhook URLs in log records with ``/<redacted>``.

    One instance, :data:`REDACT`, sits on the ``httpx`` logger, which logs every request URL at INFO.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, url: str) -> None:
        parsed = httpx.URL(url)
        secret = parsed.raw_path.decode("ascii", "replace")
        if secret not in ("", "/"):
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "/<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


REDACT = RedactWebhookUrls()
logging.getLogger("httpx").addFilter(REDACT)
