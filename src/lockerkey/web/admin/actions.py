"""The console's actions (POST, CSRF-checked): staff actions through the engine, backup, sync.

Each answers with a redirect back to the page it came from, carrying a message for it
(post/redirect/get), so reloading a page never repeats an action.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from lockerkey.app import KioskUnavailable
from lockerkey.core.events import Event, ForceReturn, MarkLost, OpenSlot, SetService
from lockerkey.store.backup import BackupError, list_backups
from lockerkey.web.admin.auth import Session
from lockerkey.web.admin.base import Console, field, locker_page, read_form, safe_back

log = logging.getLogger("lockerkey.web")

ACTIONS = ("force_return", "mark_lost", "out_of_service", "in_service", "open_slot")
DEFAULT_OPEN_S = 60
MAX_REASON = 200


def staff_event(action: str, locker: str, reason: str, seconds: int, staff: str) -> Event:
    """The engine event of one console action."""
    if action == "force_return":
        return ForceReturn(locker, reason, staff=staff)
    if action == "mark_lost":
        return MarkLost(locker, reason, staff=staff)
    if action == "open_slot":
        return OpenSlot(locker, seconds, reason, staff=staff)
    return SetService(locker, action == "in_service", reason, staff=staff)


def _newest(directory: Path) -> str | None:
    try:
        found = list_backups(directory)
    except BackupError:
        return None
    return found[0].name if found else None


def action_routes(con: Console) -> list[Route]:
    """POST /actions/{action}: the staff actions on one locker, through the engine."""
    ctx = con.ctx

    async def act(request: Request, session: Session) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            return con.missing(request, session)
        form = await read_form(request)
        locker = field(form, "locker", 64)
        reason = field(form, "reason", MAX_REASON)
        back = safe_back(field(form, "back", 500), locker_page(locker))
        seconds = DEFAULT_OPEN_S
        if action == "open_slot":
            try:
                seconds = int(field(form, "seconds", 10) or DEFAULT_OPEN_S)
            except ValueError:
                session.flash("error", "action.seconds_invalid")
                return RedirectResponse(back, status_code=303)
        if not reason:
            session.flash("error", "action.reason_needed")
            return RedirectResponse(back, status_code=303)
        event = staff_event(action, locker, reason, seconds, session.account)
        try:
            step = await ctx.kiosk.submit(event)
        except KioskUnavailable as err:
            log.error("console action %s on locker %s failed: %s", action, locker, err)
            session.flash("error", "action.unavailable")
            return RedirectResponse(back, status_code=303)
        reply = step.reply
        if reply is None:
            session.flash("error", "action.no_answer")
        else:
            session.flash_reply(reply.ok, reply.msg, reply.params)
        return RedirectResponse(back, status_code=303)

    return [Route("/actions/{action}", con.staff(act), methods=["POST"])]


def job_routes(con: Console) -> list[Route]:
    """POST /backup/run and /sync/run: the daemon's jobs, run now, audited with the account."""
    ctx = con.ctx

    async def backup_now(request: Request, session: Session) -> Response:
        back = "/admin/backup"
        if ctx.backup_now is None:
            session.flash("error", "backup.not_available")
            return RedirectResponse(back, status_code=303)
        ctx.kiosk.note("admin_backup", account=session.account)
        before = await asyncio.to_thread(_newest, ctx.settings.backup_dir)
        await ctx.backup_now()
        after = await asyncio.to_thread(_newest, ctx.settings.backup_dir)
        if after is not None and after != before:
            session.flash("success", "backup.done", name=after)
        else:
            session.flash("error", "backup.failed")
        return RedirectResponse(back, status_code=303)

    async def sync_now(request: Request, session: Session) -> Response:
        back = "/admin/backup"
        if ctx.sync_now is None:
            session.flash("error", "sync.not_set_up")
            return RedirectResponse(back, status_code=303)
        ctx.kiosk.note("admin_sync", account=session.account)
        try:
            await ctx.sync_now()
        except Exception as err:  # noqa: BLE001 - whatever a sync backend raises, staff see it
            log.error("sync from the console failed: %s", err)
            session.flash("error", "sync.failed", error=str(err))
        else:
            session.flash("success", "sync.done")
        return RedirectResponse(back, status_code=303)

    return [
        Route("/backup/run", con.staff(backup_now), methods=["POST"]),
        Route("/sync/run", con.staff(sync_now), methods=["POST"]),
    ]
