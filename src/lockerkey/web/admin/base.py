"""What every console route shares: the session check, CSRF, languages, rendering, headers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from lockerkey.core.messages import LANGUAGES, Msg
from lockerkey.core.messages import render as render_msg
from lockerkey.store import accounts
from lockerkey.web.access import normalise
from lockerkey.web.admin import texts
from lockerkey.web.admin.auth import Clock, Session, Sessions, Throttle, dummy_hash, same
from lockerkey.web.context import WebContext
from lockerkey.web.static import TEMPLATES_DIR

SESSION_COOKIE = "lk_admin"
LOGIN_CSRF_COOKIE = "lk_login_csrf"
LANG_COOKIE = "lk_lang"
COOKIE_PATH = "/admin"
HOME = "/admin/"
LOGIN = "/admin/login"
# Inline SVG charts may carry style attributes; nothing else is inline and there is no script.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}
NAV = (
    ("lockers", "/admin/lockers"),
    ("rentals", "/admin/rentals"),
    ("alerts", "/admin/alerts"),
    ("members", "/admin/members"),
    ("charts", "/admin/charts"),
    ("backup", "/admin/backup"),
)
MAX_FIELDS = 20
# The login form is open to anyone on the network: a body is read only when it says how long
# it is and that is small (browsers always send Content-Length with a form).
MAX_BODY = 64 * 1024
HASHING_AT_ONCE = 2  # each check takes ~32 MiB: a burst of logins must not exhaust a Pi

Endpoint = Callable[[Request], Awaitable[Response]]
StaffHandler = Callable[[Request, Session], Awaitable[Response]]


def safe_back(target: str | None, default: str = HOME) -> str:
    """``target`` if it is a path of this console (never another site), else ``default``."""
    if (
        not target
        or not (target == "/admin" or target.startswith("/admin/") or target.startswith("/admin?"))
        or "//" in target
        or "\\" in target
        or any(ord(ch) < 0x20 for ch in target)
    ):
        return default
    return target


def locker_page(locker: str) -> str:
    """The console page of one locker."""
    return "/admin/locker?" + urlencode({"n": locker})


def client_of(request: Request) -> str:
    """The client's address as the access guard sees it."""
    return normalise(request.client.host) if request.client else "unknown"


class Console:
    """The console's shared state: the kiosk context, sessions, login throttle, templates."""

    def __init__(self, ctx: WebContext, clock: Clock) -> None:
        self.ctx = ctx
        self.clock = clock
        self.sessions = Sessions(ctx.settings.web.session_minutes * 60.0, clock)
        self.throttle = Throttle(clock)
        self.dummy = dummy_hash()
        self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates = Jinja2Templates(env=env)

    # ---- time ----------------------------------------------------------------------------

    def now(self) -> datetime:
        """The kiosk's wall clock (aware UTC)."""
        return self.ctx.kiosk.clock.now().wall

    def local(self, when: datetime | None, seconds: bool = False) -> str:
        """A time as staff read it: the configured zone, to the minute (or second)."""
        if when is None:
            return ""
        shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
        return when.astimezone(self.ctx.settings.timezone).strftime(shape)

    # ---- languages -----------------------------------------------------------------------

    def language(self, request: Request) -> str:
        """``?lang=``, else the language cookie, else the kiosk's language."""
        for lang in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
            if lang in LANGUAGES:
                return str(lang)
        return self.ctx.settings.language

    # ---- the login -----------------------------------------------------------------------

    async def check_password(self, name: str, password: str) -> str | None:
        """The account's version when ``password`` is right for ``name``, else None."""
        found = None
        if _usable_name(name):
            found = await self.ctx.kiosk.db(accounts.password_hash, self.ctx.kiosk.ledger, name)
        if len(password) > accounts.MAX_PASSWORD:
            return None
        stored = found[0] if found else self.dummy
        # Off the event loop: scrypt is slow and memory-hard on purpose.
        async with self._hashing:
            ok = await asyncio.to_thread(accounts.verify_password, password, stored)
        return found[1] if ok and found else None

    async def session_of(self, request: Request) -> Session | None:
        """The request's live session; one whose account was removed or changed ends here."""
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        version = await self.ctx.kiosk.db(
            accounts.account_version, self.ctx.kiosk.ledger, session.account
        )
        if version != session.version:
            self.sessions.drop(session.token)
            return None
        return session

    def staff(self, handler: StaffHandler) -> Endpoint:
        """An endpoint for logged-in staff only; a POST must also carry the session's CSRF."""

        async def endpoint(request: Request) -> Response:
            session = await self.session_of(request)
            if session is None:
                return self.to_login(request)
            if request.method == "POST":
                form = await read_form(request)
                if not same(_field(form, "csrf"), session.csrf):
                    return self.forbidden(request, session)
            return await handler(request, session)

        return endpoint

    def to_login(self, request: Request) -> Response:
        """303 to the login page, coming back here afterwards (GET pages only)."""
        target = LOGIN
        if request.method == "GET":
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            back = safe_back(here, "")
            if back and back not in (HOME, "/admin"):
                target += "?" + urlencode({"next": back})
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    def forbidden(self, request: Request, session: Session | None) -> Response:
        """The 403 page of a form without a valid CSRF token: nothing was done."""
        return self.render(request, "admin/forbidden.html", session, status=403, title_key="403")

    def missing(self, request: Request, session: Session | None) -> Response:
        """The 404 page of an unknown locker, member or action."""
        return self.render(request, "admin/missing.html", session, status=404, title_key="missing")

    def set_cookie(self, request: Request, response: Response, name: str, value: str) -> None:
        """A console cookie: HttpOnly, SameSite=Strict, Path=/admin, Secure over https."""
        response.set_cookie(
            name,
            value,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    # ---- rendering -----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status: int = 200,
        title_key: str = "",
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        """A page in the request's language, with the nav bar and the session's messages."""
        lang = self.language(request)
        t = texts.translator(lang)
        other = "en" if lang == "ko" else "ko"
        params = {k: v for k, v in request.query_params.items() if k != "lang"}
        params["lang"] = other
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "t": t,
                "lang": lang,
                "toggle_url": f"{request.url.path}?{urlencode(params)}",
                "account": session.account if session else None,
                "csrf": session.csrf if session else "",
                "flashes": [
                    (f.level, render_msg(Msg(f.key), lang, _strings(f.params)))
                    if f.engine
                    else (f.level, t(f.key, **f.params))
                    for f in (session.take_flashes() if session else [])
                ],
                "nav": NAV,
                "current": context.pop("current", ""),
                "title": t(f"title.{title_key}") if title_key else t("app_name"),
                "local": self.local,
                "duration": t.duration,
                "size": texts.size,
                "label": t.label,
                "label_code": t.code,
                "label_kind": t.kind,
                "describe": lambda event: t.details(event.details),
                # The kiosk refuses an "active" member past the expiry date: show it so too.
                "today": self.now().astimezone(self.ctx.settings.timezone).date().isoformat(),
                **context,
            },
            status_code=status,
            headers=headers,
        )
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE,
                lang,
                max_age=365 * 24 * 3600,
                path=COOKIE_PATH,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response


def secured(endpoint: Endpoint) -> Endpoint:
    """The endpoint with the console's security headers on every answer."""

    async def wrapped(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except HTTPException as err:
            response = PlainTextResponse(str(err.detail), status_code=err.status_code)
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response

    return wrapped


async def read_form(request: Request) -> FormData:
    """The posted form (no file uploads, a few fields, a small body: else 411 or 413)."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise HTTPException(411, "a form needs a Content-Length")
    if int(length) > MAX_BODY:
        raise HTTPException(413, "the form is too large")
    return await request.form(max_files=0, max_fields=MAX_FIELDS)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def field(form: FormData, name: str, limit: int = 200) -> str:
    """A text field of the form, trimmed and cut to ``limit`` characters."""
    return _field(form, name).strip()[:limit]


def _usable_name(name: str) -> bool:
    try:
        accounts.check_name(name)
    except accounts.AccountError:
        return False
    return True


def _strings(params: Mapping[str, object]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items()}


def retry_after(wait: float) -> int:
    """Whole seconds to wait, at least one."""
    return max(1, math.ceil(wait))
