"""The staff console at /admin: logins, the locker grid, rentals, alerts, members, charts,
backups, and the staff actions (through the engine, audited with the account's name)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from lockerkey.web.admin.actions import action_routes, job_routes
from lockerkey.web.admin.auth import Clock
from lockerkey.web.admin.base import Console, secured
from lockerkey.web.admin.login import login_routes
from lockerkey.web.admin.pages import page_routes
from lockerkey.web.context import WebContext
from lockerkey.web.static import static_path


async def _stylesheet(request: Request) -> Response:
    # Served under /admin: the access guard lets other machines reach nothing else.
    return FileResponse(static_path("admin.css"), media_type="text/css")


def routes(ctx: WebContext, clock: Clock = time.monotonic) -> list[BaseRoute]:
    """The console's routes, mounted at /admin; ``clock`` times sessions and login delays."""
    con = Console(ctx, clock)
    plain = [
        *login_routes(con),
        *page_routes(con),
        *action_routes(con),
        *job_routes(con),
        Route("/static/admin.css", _stylesheet, methods=["GET"]),
    ]
    return [Route(r.path, secured(r.endpoint), methods=r.methods) for r in plain]
