"""Login and logout of the staff console.

The login form carries a pre-session CSRF token that must equal its cookie (double submit);
after three failed logins for a name or from an address, further tries wait 1, 2, 4 ... 60
seconds and are refused with 429 meanwhile, without sleeping on the event loop.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from lockerkey.store import accounts
from lockerkey.web.admin.auth import Session, new_token, same
from lockerkey.web.admin.base import (
    HOME,
    LOGIN,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Console,
    client_of,
    field,
    read_form,
    retry_after,
    safe_back,
)
from lockerkey.web.admin.texts import translator

MAX_NAME_LOGGED = 64  # a name typed at the login form is audited, cut to this length


def login_routes(con: Console) -> list[Route]:
    """GET/POST /login and POST /logout."""

    async def form_page(
        request: Request, status: int = 200, error: str = "", name: str = "", wait: int = 0
    ) -> Response:
        token = new_token()
        no_accounts = not await con.ctx.kiosk.db(accounts.list_accounts, con.ctx.kiosk.ledger)
        response = con.render(
            request,
            "admin/login.html",
            None,
            status=status,
            title_key="login",
            login_csrf=token,
            error=error,
            name=name,
            next=safe_back(request.query_params.get("next"), ""),
            no_accounts=no_accounts,
            headers={"retry-after": str(wait)} if wait else None,
        )
        con.set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
        return response

    async def login_get(request: Request) -> Response:
        if await con.session_of(request) is not None:
            return RedirectResponse(HOME, status_code=303)
        return await form_page(request)

    async def login_post(request: Request) -> Response:
        form = await read_form(request)
        if not same(field(form, "csrf", 200), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return con.forbidden(request, None)
        t = translator(con.language(request))
        name = field(form, "name", 200)
        raw = form.get("password")
        password = raw if isinstance(raw, str) else ""
        client = client_of(request)
        keys = (f"name:{name}", f"client:{client}")
        wait = con.throttle.wait(keys)
        if wait > 0:
            seconds = retry_after(wait)
            return await form_page(
                request, 429, t("login.too_many", seconds=seconds), name, wait=seconds
            )
        # Counted as failed before the check and cleared on success: parallel guesses all see
        # each other, so a burst cannot slip past the delays while the hashes are computed.
        con.throttle.failed(keys)
        version = await con.check_password(name, password) if name and password else None
        if version is None:
            con.ctx.kiosk.note("admin_login_failed", account=name[:MAX_NAME_LOGGED], client=client)
            return await form_page(request, 401, t("login.failed"), name)
        con.throttle.succeeded(keys)
        session = con.sessions.create(name, version)
        con.ctx.kiosk.note("admin_login", account=name, client=client)
        target = safe_back(field(form, "next", 500), HOME)
        response = RedirectResponse(target, status_code=303)
        con.set_cookie(request, response, SESSION_COOKIE, session.token)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
        return response

    async def logout(request: Request, session: Session) -> Response:
        con.sessions.drop(session.token)
        con.ctx.kiosk.note("admin_logout", account=session.account, client=client_of(request))
        response = RedirectResponse(LOGIN, status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/admin")
        return response

    return [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", con.staff(logout), methods=["POST"]),
    ]
