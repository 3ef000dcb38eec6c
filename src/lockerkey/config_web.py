"""The ``[web]`` table: the kiosk page, its API and the staff console."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from lockerkey.config_check import Checker, describe

LOOPBACK_CLIENTS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class WebSettings:
    """Where the kiosk page and the admin console are served, and who may use them."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    # Client addresses whose requests may act as the kiosk (scan, select, cancel) and see its
    # page; everyone else reaches the admin console (behind its login) and nothing more.
    kiosk_clients: tuple[str, ...] = LOOPBACK_CLIENTS
    session_minutes: int = 60  # an admin login lasts this long without use

    def is_loopback(self) -> bool:
        """True when only this machine can connect at all."""
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"


def read_web(check: Checker, data: Mapping[str, object]) -> WebSettings:
    """The [web] table."""
    table = check.table(
        data, "web", ("enabled", "host", "port", "kiosk_clients", "session_minutes")
    )
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        check.add("web.enabled", f"must be true or false, got {describe(enabled)}")
        enabled = True
    clients = table.get("kiosk_clients", list(LOOPBACK_CLIENTS))
    good: list[str] = []
    if not isinstance(clients, list) or not all(isinstance(c, str) for c in clients):
        check.add("web.kiosk_clients", f"must be a list of IP addresses, got {describe(clients)}")
    else:
        for client in clients:
            try:
                good.append(str(ipaddress.ip_address(client)))
            except ValueError:
                check.add("web.kiosk_clients", f"{client!r} is not an IP address")
    return WebSettings(
        enabled=enabled,
        host=check.text(table, "web", "host", "127.0.0.1", nonempty=True),
        # 0: any free port (the log says which), for tests and side-by-side instances.
        port=check.integer(table, "web", "port", 8000, low=0, high=65535),
        kiosk_clients=tuple(good) if good else LOOPBACK_CLIENTS,
        session_minutes=check.integer(table, "web", "session_minutes", 60, low=1, high=24 * 60),
    )
