"""The admin console's test rig (no tests here): a kiosk on a simulated cabinet and the web
app around it, all in the event loop of Starlette's TestClient.

The TestClient serves the app from its own thread's event loop (its portal). The kiosk,
its simulator and the app must share one loop, so the rig starts them inside that portal;
the test itself stays synchronous and reaches async code through ``portal.call``.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from lockerkey.core.state import Phase
from lockerkey.store import accounts
from lockerkey.store.backup import take_backup
from lockerkey.web import admin, kiosk_api
from lockerkey.web.access import KioskOnly
from lockerkey.web.context import WebContext
from lockerkey.web.screen import ScreenModel
from tests.live import Site, eventually, open_site

PASSWORD = "correct horse battery"
LOOPBACK = ("127.0.0.1", 50000)
T = TypeVar("T")


class ManualClock:
    """The console's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class LateApp:
    """An ASGI app set after the TestClient started (the kiosk needs the client's loop)."""

    def __init__(self) -> None:
        self.app: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop: answer both at once
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None
        await self.app(scope, receive, send)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


class Rig:
    """The TestClient, the running kiosk, the console's clock and what the backup hook did."""

    def __init__(self, client: TestClient, site: Site, clock: ManualClock, ctx: WebContext):
        self.client = client
        self.site = site
        self.clock = clock
        self.ctx = ctx
        self.backups: list[str] = []

    def call(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run a coroutine function in the app's event loop and return its result."""
        portal = self.client.portal
        assert portal is not None
        return portal.call(functools.partial(func, *args, **kwargs))

    def db(self, func: Callable[..., T], *args: Any) -> T:
        """A ledger call on the kiosk's ledger thread."""
        return self.call(self.site.kiosk.db, func, self.site.ledger, *args)

    def add_account(self, name: str = "kim", password: str = PASSWORD) -> None:
        """Create a console account in the ledger."""
        self.db(accounts.set_password, name, accounts.hash_password(password), datetime.now(UTC))

    def login(self, name: str = "kim", password: str = PASSWORD, lang: str | None = None) -> Any:
        """Post the login form (with its CSRF token); the answer, not followed."""
        page = self.client.get("/admin/login")
        assert page.status_code == 200, page.text
        data = {"csrf": csrf_of(page.text), "name": name, "password": password}
        return self.client.post("/admin/login" + (f"?lang={lang}" if lang else ""), data=data)

    def csrf(self, path: str = "/admin/lockers") -> str:
        """The session's CSRF token, from a page."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        return csrf_of(page.text)

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The ledger's audit rows of one kind, once the kiosk wrote what it was given."""
        self.call(self.site.kiosk.queue.join)

        def read(ledger: Any) -> list[dict[str, Any]]:
            rows = ledger.conn.execute(
                "SELECT * FROM events WHERE kind = ? ORDER BY event_id", (kind,)
            )
            return [dict(row) for row in rows]

        return self.call(self.site.kiosk.db, read, self.site.ledger)

    def rent(self, member: str) -> str:
        """A member rents a locker at the kiosk (the key taken from the simulator)."""

        async def go() -> str:
            site = self.site
            site.kiosk.scan(member)
            await eventually(lambda: site.engine.phase is Phase.TAKE_KEY, why="take-key step")
            session = site.engine.session
            assert session is not None and session.locker is not None
            locker = session.locker
            slot = site.engine.layout.lockers[locker].slot
            controller = site.sims[0].controller
            await eventually(lambda: not controller.is_locked(slot), why="slot unlocked")
            site.sims[0].take(slot)
            await eventually(lambda: site.engine.phase is Phase.IDLE, why="rental confirmed")
            await eventually(lambda: controller.is_locked(slot), why="relocked")
            await site.kiosk.queue.join()
            return locker

        return self.call(go)

    def return_into(self, locker: str, other: str) -> None:
        """The key of ``locker`` is scanned for a return but pushed into ``other``'s slot."""

        async def go() -> None:
            site = self.site
            site.kiosk.scan(f"KEY-{locker}")
            await eventually(lambda: site.engine.phase is Phase.RETURN_KEY, why="return step")
            site.sims[0].insert(site.engine.layout.lockers[other].slot)
            await eventually(lambda: site.engine.phase is Phase.IDLE, why="return decided")
            await site.kiosk.queue.join()

        self.call(go)


def console_app(ctx: WebContext, clock: ManualClock) -> Starlette:
    """The app as web/server.py builds it, with the console on the test's clock."""
    return Starlette(
        routes=[
            *kiosk_api.routes(ctx),
            Mount("/admin", routes=admin.routes(ctx, clock=clock)),
        ],
        middleware=[Middleware(KioskOnly, clients=ctx.settings.web.kiosk_clients)],
    )


@contextmanager
def console(
    tmp_path: Path,
    *,
    client: tuple[str, int] = LOOPBACK,
    base_url: str = "http://testserver",
    backup: bool = True,
    sync: Callable[[], Awaitable[None]] | None = None,
    build: Callable[[WebContext, ManualClock], Any] = console_app,
) -> Iterator[Rig]:
    """A running kiosk (8 lockers, members M1..M3) with the console served to ``client``."""
    late = LateApp()
    clock = ManualClock()
    with TestClient(late, client=client, base_url=base_url, follow_redirects=False) as http:
        assert http.portal is not None
        site = http.portal.call(functools.partial(open_site, tmp_path, 8))
        screen = ScreenModel(lambda: site.kiosk.engine, site.settings.language)
        ctx = WebContext(site.settings, site.kiosk, screen, sync_now=sync)
        rig = Rig(http, site, clock, ctx)
        if backup:

            async def backup_now() -> None:
                # What the daemon's job does: a checked copy on a thread, then its audit note.
                s = site.settings
                done = await asyncio.to_thread(
                    take_backup, s.db_path, s.backup_dir, s.backup.keep, datetime.now(UTC)
                )
                site.kiosk.note("backup", path=str(done.path), size=done.size)
                rig.backups.append(done.path.name)

            ctx.backup_now = backup_now
        late.app = build(ctx, clock)
        try:
            yield rig
        finally:
            http.portal.call(site.stop)
