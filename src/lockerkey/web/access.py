"""Who may reach what: the kiosk's page and API are for the kiosk's own machine only.

With ``web.host`` open to the network, everything but the admin console (behind its login)
answers 403 to other clients, so nobody on the gym's Wi-Fi can scan, choose or cancel.
"""

from __future__ import annotations

import ipaddress
import json

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
        if scope["type"] not in ("http", "websocket") or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Policy violation, before the handshake is accepted.
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            {
                "ok": False,
                "reason": "kiosk_only",
                "message": "This page is for the kiosk's own screen only.",
            }
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
        path: str = scope.get("path", "")
        if path == PUBLIC_PREFIX or path.startswith(PUBLIC_PREFIX + "/"):
            return True
        client = scope.get("client")
        return client is not None and normalise(str(client[0])) in self.clients
