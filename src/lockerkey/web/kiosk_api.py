"""The kiosk page and its API (a contract: GET /api/state, WS /ws, POST select/cancel/scan)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from lockerkey.app import KioskUnavailable
from lockerkey.core import rules
from lockerkey.core.events import Cancel, Select, Step
from lockerkey.core.labels import page_texts
from lockerkey.core.messages import LANGUAGES, Msg, render
from lockerkey.web.context import WebContext
from lockerkey.web.static import static_path

log = logging.getLogger("lockerkey.web")

PAGE_READER = "kiosk-page"  # the reader name of scans typed into the page
NO_STORE = {"cache-control": "no-store"}


class BadRequest(Exception):
    """A request body that is not what the endpoint takes."""

    def response(self) -> JSONResponse:
        """The 400 answer saying what was wrong."""
        return JSONResponse({"ok": False, "reason": "bad_request", "message": str(self)}, 400)


def _language(request: Request | WebSocket, ctx: WebContext) -> str:
    lang = request.query_params.get("lang", "")
    return lang if lang in LANGUAGES else ctx.settings.language


def _refusal(status: int, reason: str, msg: Msg, lang: str, **params: str) -> JSONResponse:
    return JSONResponse(
        {
            "ok": False,
            "reason": reason,
            "message": render(msg, lang, params),
            "messages": {code: render(msg, code, params) for code in LANGUAGES},
        },
        status_code=status,
        headers=NO_STORE,
    )


async def _body(request: Request, field: str) -> str:
    """The one string field of a JSON object body."""
    try:
        data: Any = json.loads(await request.body() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"the body is not JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get(field), str):
        raise BadRequest(f'expected a JSON object with a string "{field}"')
    value: str = data[field]
    return value


def routes(ctx: WebContext) -> list[BaseRoute]:
    """The kiosk's routes, bound to ``ctx``."""

    async def page(request: Request) -> Response:
        return FileResponse(static_path("kiosk.html"), headers=NO_STORE)

    async def texts(request: Request) -> Response:
        return JSONResponse(page_texts(), headers=NO_STORE)

    async def state(request: Request) -> Response:
        return JSONResponse(ctx.screen.state(_language(request, ctx)), headers=NO_STORE)

    async def select(request: Request) -> Response:
        lang = _language(request, ctx)
        try:
            locker = await _body(request, "locker")
        except BadRequest as err:
            return err.response()
        step = await _submit(Select(locker.strip()))
        if step is None:
            return _refusal(503, "unavailable", Msg.KIOSK_UNAVAILABLE, lang)
        if step.reply is not None and not step.reply.ok:
            reply = step.reply
            return _refusal(409, str(reply.msg), reply.msg, lang, **reply.params)
        return JSONResponse({"ok": True, "state": ctx.screen.state(lang)}, headers=NO_STORE)

    async def cancel(request: Request) -> Response:
        # "Ends the current step safely": also with nothing to end, that is done (200);
        # `cancelled` says whether there was a step to end.
        lang = _language(request, ctx)
        step = await _submit(Cancel())
        if step is None:
            return _refusal(503, "unavailable", Msg.KIOSK_UNAVAILABLE, lang)
        ended = step.reply is None or step.reply.ok
        body = {"ok": True, "cancelled": ended, "state": ctx.screen.state(lang)}
        return JSONResponse(body, headers=NO_STORE)

    async def _submit(event: Select | Cancel) -> Step | None:
        """The event's Step, or None when the kiosk could not handle it (logged)."""
        try:
            return await ctx.kiosk.submit(event)
        except KioskUnavailable as err:
            log.warning("%s not handled: %s", type(event).__name__, err)
            return None

    async def scan(request: Request) -> Response:
        lang = _language(request, ctx)
        try:
            code = await _body(request, "code")
        except BadRequest as err:
            return err.response()
        if not rules.valid_code(code):
            return _refusal(422, "invalid_code", Msg.INVALID_CODE, lang)
        ctx.kiosk.intake(PAGE_READER)(code)
        return JSONResponse({"ok": True, "queued": True}, status_code=202, headers=NO_STORE)

    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        lang = _language(socket, ctx)
        closed = asyncio.create_task(_until_closed(socket))
        try:
            while not closed.done():
                current = ctx.screen.state(lang)
                await socket.send_json(current)
                change = asyncio.create_task(ctx.screen.wait_change(current["seq"]))
                await asyncio.wait([change, closed], return_when=asyncio.FIRST_COMPLETED)
                change.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass  # the page went away mid-send
        finally:
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closed

    return [
        Route("/", page),
        Route("/api/state", state),
        Route("/api/texts", texts),
        Route("/api/select", select, methods=["POST"]),
        Route("/api/cancel", cancel, methods=["POST"]),
        Route("/api/scan", scan, methods=["POST"]),
        WebSocketRoute("/ws", ws),
    ]


async def _until_closed(socket: WebSocket) -> None:
    """Read (and ignore) what the page sends, until it disconnects."""
    while (await socket.receive())["type"] != "websocket.disconnect":
        pass
