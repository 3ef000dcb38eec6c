"""The staff console at /admin (placeholder until the console lands)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from lockerkey.web.context import WebContext


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The console's routes, mounted at /admin."""
    return []
