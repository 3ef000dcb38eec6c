"""The console's pages (GET): lockers, one locker, rentals, alerts, members, charts, backups."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lockerkey.store import console, stats, sync_store
from lockerkey.store.backup import BackupError, list_backups
from lockerkey.web import charts
from lockerkey.web.admin.auth import Session
from lockerkey.web.admin.base import Console, locker_page

LONG_RENTAL = timedelta(hours=4)  # rentals out longer than this are highlighted
ALERT_DAYS = 30
MAX_QUERY = 64


@dataclass(frozen=True)
class BackupFile:
    """One backup as the backup page lists it."""

    name: str
    size: int
    written: datetime


def _backups(directory: Path, tz: tzinfo) -> list[BackupFile]:
    """The backups in ``directory``, newest first (runs on a thread: it reads the disk)."""
    found: list[BackupFile] = []
    for path in list_backups(directory):
        try:
            info = path.stat()
        except OSError:
            continue  # pruned between the listing and now
        found.append(BackupFile(path.name, info.st_size, datetime.fromtimestamp(info.st_mtime, tz)))
    return found


def page_routes(con: Console) -> list[Route]:
    """Every GET page of the console."""
    ctx = con.ctx
    kiosk = ctx.kiosk

    async def lockers(request: Request, session: Session) -> Response:
        cards = await kiosk.db(console.locker_grid, kiosk.ledger)
        online = kiosk.engine.online
        offline = [cab.name for i, cab in enumerate(ctx.settings.cabinets) if i not in online]
        counts = Counter(card.state for card in cards)
        return con.render(
            request,
            "admin/lockers.html",
            session,
            title_key="lockers",
            current="lockers",
            cards=cards,
            counts=counts,
            states=console.STATES,
            offline=offline,
        )

    async def locker(request: Request, session: Session) -> Response:
        number = request.query_params.get("n", "")
        card = await kiosk.db(console.locker_card, kiosk.ledger, number)
        if card is None:
            return con.missing(request, session)
        rentals = await kiosk.db(console.locker_rentals, kiosk.ledger, number)
        events = await kiosk.db(console.locker_events, kiosk.ledger, number)
        actions = ["open_slot"]
        if card.member_id is not None:
            actions[:0] = ["force_return", "mark_lost"]
        actions.append("out_of_service" if card.service == "in_service" else "in_service")
        return con.render(
            request,
            "admin/locker.html",
            session,
            title_key="locker",
            current="lockers",
            card=card,
            rentals=rentals,
            events=events,
            actions=actions,
            back=locker_page(number),
        )

    async def rentals(request: Request, session: Session) -> Response:
        sort = request.query_params.get("sort", "locker")
        if sort not in console.RENTAL_ORDER:
            sort = "locker"
        rows = await kiosk.db(console.active_rentals, kiosk.ledger, sort)
        now = con.now()
        return con.render(
            request,
            "admin/rentals.html",
            session,
            title_key="rentals",
            current="rentals",
            rows=rows,
            sort=sort,
            long={r.rental_id for r in rows if r.since and now - r.since > LONG_RENTAL},
            ages={r.rental_id: (now - r.since if r.since else None) for r in rows},
            long_hours=int(LONG_RENTAL.total_seconds() // 3600),
        )

    async def alerts(request: Request, session: Session) -> Response:
        since = con.now() - timedelta(days=ALERT_DAYS)
        found = await kiosk.db(console.alerts, kiosk.ledger, since)
        return con.render(
            request,
            "admin/alerts.html",
            session,
            title_key="alerts",
            current="alerts",
            alerts=found,
            days=ALERT_DAYS,
            back="/admin/alerts",
        )

    async def members(request: Request, session: Session) -> Response:
        query = request.query_params.get("q", "")[:MAX_QUERY]
        found = await kiosk.db(console.search_members, kiosk.ledger, query) if query else []
        return con.render(
            request,
            "admin/members.html",
            session,
            title_key="members",
            current="members",
            query=query,
            found=found,
        )

    async def member(request: Request, session: Session) -> Response:
        member_id = request.query_params.get("id", "")
        found = await kiosk.db(console.member, kiosk.ledger, member_id)
        if found is None:
            return con.missing(request, session)
        history = await kiosk.db(console.member_rentals, kiosk.ledger, member_id)
        return con.render(
            request,
            "admin/member.html",
            session,
            title_key="member",
            current="members",
            member=found,
            history=history,
        )

    async def chart_page(request: Request, session: Session) -> Response:
        lang = con.language(request)
        now, tz = con.now(), ctx.settings.timezone
        today, average = await kiosk.db(stats.hourly, kiosk.ledger, now, tz)
        days = await kiosk.db(stats.daily, kiosk.ledger, now, tz)
        use = await kiosk.db(stats.utilisation, kiosk.ledger, now, tz)
        # Trusted markup: charts.py builds it from numbers and escapes its own labels.
        svgs = {
            "hourly": Markup(charts.hourly_svg(today, average, lang)),  # noqa: S704
            "daily": Markup(charts.daily_svg(days, lang)),  # noqa: S704
            "utilisation": Markup(charts.utilisation_svg(use, lang)),  # noqa: S704
        }
        return con.render(
            request,
            "admin/charts.html",
            session,
            title_key="charts",
            current="charts",
            svgs=svgs,
        )

    async def backup(request: Request, session: Session) -> Response:
        error = ""
        try:
            files = await asyncio.to_thread(
                _backups, ctx.settings.backup_dir, ctx.settings.timezone
            )
        except BackupError as err:
            files, error = [], str(err)
        runs = await kiosk.db(sync_store.recent_runs, kiosk.ledger, 10)
        return con.render(
            request,
            "admin/backup.html",
            session,
            title_key="backup",
            current="backup",
            files=files,
            error=error,
            backup_dir=str(ctx.settings.backup_dir),
            can_backup=ctx.backup_now is not None,
            sync_backend=ctx.settings.sync.backend,
            can_sync=ctx.sync_now is not None,
            runs=runs,
        )

    return [
        Route("/", con.staff(lockers), methods=["GET"]),
        Route("/lockers", con.staff(lockers), methods=["GET"]),
        Route("/locker", con.staff(locker), methods=["GET"]),
        Route("/rentals", con.staff(rentals), methods=["GET"]),
        Route("/alerts", con.staff(alerts), methods=["GET"]),
        Route("/members", con.staff(members), methods=["GET"]),
        Route("/member", con.staff(member), methods=["GET"]),
        Route("/charts", con.staff(chart_page), methods=["GET"]),
        Route("/backup", con.staff(backup), methods=["GET"]),
    ]
