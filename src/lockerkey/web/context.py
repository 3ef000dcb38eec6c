"""What the web layer reaches of the running kiosk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.routing import BaseRoute

from lockerkey.app import Kiosk
from lockerkey.config import Settings
from lockerkey.web.screen import ScreenModel


@dataclass
class WebContext:
    """The kiosk, its screen model and the daemon's hooks, shared by every route."""

    settings: Settings
    kiosk: Kiosk
    screen: ScreenModel
    # "Run now" buttons of the admin console; None where the daemon has no such job.
    backup_now: Callable[[], Awaitable[None]] | None = None
    sync_now: Callable[[], Awaitable[None]] | None = None
    # Routes only the demo serves (the simulator panel at /sim).
    extra_routes: list[BaseRoute] = field(default_factory=list)
