"""Who may reach what: the kiosk's page and API are for the kiosk's own machine only.

With ``web.host`` open to the network, everything but the admin console (behind its login)
answers 403 to other clients, so nobody on the gym's Wi-Fi can scan, choose or cancel.
"""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PREFIX = "/admin"


def normalise(host: str) -> str:
    """An address in canonical form (``::ffff:127.0.0.1`` becomes ``127.0.0.1``)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class KioskOnly:
    """ASGI middleware: paths outside /admin answer only the configured kiosk clients."""

    def __init__(self, app: ASGIApp, clients: tuple[str, ...]) -> None:
        self.app = app
        self.clients = frozenset(normalise(c) for c in clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or refuse it before any route sees it."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        reason = None if self.allowed(scope) else "kiosk_only"
        if reason is None and not is_admin(scope) and foreign_origin(scope):
            reason = "cross_origin"
        if reason is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Policy violation, before the handshake is accepted.
            await send({"type": "websocket.close", "code": 1008})
            return
        ko, en = REFUSALS[reason]
        body = json.dumps(
            {"ok": False, "reason": reason, "message": en, "messages": {"ko": ko, "en": en}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def allowed(self, scope: Scope) -> bool:
        """True for the admin console, and for kiosk clients everywhere."""
        if is_admin(scope):
            return True
        client = scope.get("client")
        return client is not None and normalise(str(client[0])) in self.clients


REFUSALS = {
    "kiosk_only": ("키오스크 화면 전용입니다", "This page is for the kiosk's own screen only."),
    "cross_origin": (
        "다른 사이트에서 보낸 요청은 받지 않습니다",
        "Requests sent by another site are refused.",
    ),
}


def is_admin(scope: Scope) -> bool:
    """Whether the path is the staff console's (reachable from the network, behind a login)."""
    path: str = scope.get("path", "")
    return path == PUBLIC_PREFIX or path.startswith(PUBLIC_PREFIX + "/")


def foreign_origin(scope: Scope) -> bool:
    """A browser request made by a page of another site (or a DNS-rebinding page).

    Browsers send Origin with every POST and WebSocket handshake, so a web page opened on the
    kiosk machine cannot scan or choose through the kiosk's API; tools that send no Origin
    (curl, the tests) are unaffected, as the address check already applies to them.
    """
    if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
        return False
    headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if origin is None:
        return False
    host = headers.get(b"host", b"").decode("latin-1")
    return urlsplit(origin.decode("latin-1")).netloc != host
