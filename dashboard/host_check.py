"""The Host allow-list in front of the whole dashboard: a defence against DNS rebinding.

A web page on a name the attacker controls can point that name at 127.0.0.1 once loaded (DNS rebinding); the
browser then treats the dashboard as that page's own origin and sends it the attacker's name as ``Host``. Streamlit
checks ``Host`` against its ``server.allowedHosts`` option only on its WebSocket; :class:`HostAllowList` applies the
same option, with Streamlit's own matching (:func:`streamlit.web.server.starlette.starlette_websocket.is_host_allowed`:
port ignored, case-insensitive, ``*.example.com`` wildcards, ``*`` for any), to every HTTP request and WebSocket
handshake before anything else sees it. The project's ``.streamlit/config.toml`` lists the loopback names
(``localhost``, ``127.0.0.1``, ``::1``); an empty list accepts any Host, as Streamlit does.

A refused HTTP request gets ``403 Forbidden`` (plain text, naming the option); a refused WebSocket handshake is
closed before it is accepted, which the server answers with HTTP 403 (ASGI spec, "websocket.close" before
"websocket.accept").
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from streamlit.web.server.starlette.starlette_websocket import is_host_allowed

REFUSED = "403 Forbidden: this Host is not in server.allowedHosts (.streamlit/config.toml)"


class HostAllowList:
    """ASGI middleware: ``app`` sees only requests whose ``Host`` header passes ``server.allowedHosts``, read at each
    request (so a changed configuration applies at once)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_host_allowed(Headers(scope=scope).get("host")):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)
