"""The web server: one Starlette app under uvicorn, in the daemon's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from lockerkey.daemon import Daemon
from lockerkey.web import admin, kiosk_api
from lockerkey.web.access import KioskOnly
from lockerkey.web.context import WebContext
from lockerkey.web.screen import ScreenModel
from lockerkey.web.static import STATIC_DIR

log = logging.getLogger("lockerkey.web")


class WebError(Exception):
    """The web server cannot serve (its port is taken, its address is wrong)."""


def build_app(ctx: WebContext) -> Starlette:
    """The whole web app: the kiosk page and API, the admin console, demo extras."""
    return Starlette(
        routes=[
            *kiosk_api.routes(ctx),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
            Mount("/admin", routes=admin.routes(ctx)),
            *ctx.extra_routes,
        ],
        middleware=[Middleware(KioskOnly, clients=ctx.settings.web.kiosk_clients)],
    )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: SIGTERM belongs to the daemon, which stops us."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; a clear WebError when the address cannot be used."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise WebError(f"web.host {host!r}: {err.strerror}") from err
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as err:
        sock.close()
        raise WebError(f"cannot serve on {host}:{port}: {err.strerror}") from err
    sock.setblocking(False)
    return sock


class WebService:
    """Serves the app until cancelled; the daemon supervises it like a reader."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.app = build_app(ctx)
        self.port: int | None = None  # the bound port, once serving (port 0 picks one)

    async def serve(self) -> None:
        """Bind, serve, and on cancellation close every connection before returning."""
        web = self.ctx.settings.web
        # On a thread: looking up a host name (mDNS, say) must not hold up the kiosk's loop.
        sock = await asyncio.to_thread(bind, web.host, web.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="websockets-sansio",
            # Who may act as the kiosk is decided by the TCP peer's address alone: never by
            # X-Forwarded-For, which anyone can send (and uvicorn trusts from 127.0.0.1).
            proxy_headers=False,
            timeout_graceful_shutdown=2,
        )
        server = _Server(config)
        log.info("serving the kiosk page on http://%s:%d/", web.host, self.port)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            # Let uvicorn close its connections (WebSockets get 1012) before we go.
            server.should_exit = True
            await serving
            raise
        finally:
            sock.close()


def attach(daemon: Daemon, extra_routes: list[BaseRoute] | None = None) -> WebService:
    """Give a daemon its web server: a screen model following the kiosk, and the app."""
    kiosk = daemon.kiosk
    screen = ScreenModel(lambda: kiosk.engine, daemon.settings.language)
    kiosk.listeners.append(screen.on_step)
    ctx = WebContext(
        daemon.settings,
        kiosk,
        screen,
        backup_now=daemon.backup_now,
        sync_now=daemon.sync_now,
        extra_routes=list(extra_routes or []),
    )
    service = WebService(ctx)
    daemon.services.append(("web", service.serve))
    return service
