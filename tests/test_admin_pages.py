"""The console's pages and actions against a running kiosk on a simulated cabinet: every page
in both languages, staff actions landing in the ledger with the account's name, alerts of a
wrong-slot return, member search, backups, and who may reach what."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from lockerkey.app import Clock
from lockerkey.core.events import Now
from lockerkey.web.server import build_app
from tests.admin_harness import Rig, console, csrf_of
from tests.conftest import add_members
from tests.live import eventually

PAGES = [
    "/admin/",
    "/admin/lockers",
    "/admin/locker?n=1",
    "/admin/rentals",
    "/admin/rentals?sort=-since",
    "/admin/alerts",
    "/admin/members",
    "/admin/members?q=M",
    "/admin/member?id=M1",
    "/admin/charts",
    "/admin/backup",
]


def logged_in(rig: Rig) -> None:
    rig.add_account()
    assert rig.login().status_code == 303


def act(rig: Rig, action: str, locker: str, reason: str = "checked", **extra: str) -> Any:
    """Post one staff action from the locker's page, as its form does."""
    page = rig.client.get(f"/admin/locker?n={locker}")
    data = {"csrf": csrf_of(page.text), "locker": locker, "reason": reason, **extra}
    data.setdefault("back", f"/admin/locker?n={locker}")
    done = rig.client.post(f"/admin/actions/{action}", data=data)
    assert done.status_code == 303, done.text
    return done


def flashes(html: str) -> list[tuple[str, str]]:
    return re.findall(r'class="flash \w+" data-level="(\w+)"[^>]*>([^<]*)<', html)


def details(row: dict[str, Any]) -> dict[str, Any]:
    import json  # noqa: PLC0415

    return dict(json.loads(row["details"]))


def test_every_page_renders_in_both_languages(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        rig.rent("M1")
        for path in PAGES:
            glue = "&" if "?" in path else "?"
            ko = rig.client.get(f"{path}{glue}lang=ko")
            en = rig.client.get(f"{path}{glue}lang=en")
            assert ko.status_code == en.status_code == 200, (path, ko.text[-800:])
            assert '<html lang="ko">' in ko.text and '<html lang="en">' in en.text
            assert ">회원</a>" in ko.text and ">Members</a>" in en.text
            assert 'data-nav="lockers"' in ko.text and 'id="logout"' in en.text
            for page in (ko, en):
                assert page.headers["content-security-policy"].startswith("default-src 'self'")
                assert page.headers["x-frame-options"] == "DENY"
                assert page.headers["cache-control"] == "no-store"
                assert page.headers["referrer-policy"] == "no-referrer"
        css = rig.client.get("/admin/static/admin.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_the_language_choice_is_kept_in_a_cookie(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        assert "락카 현황" in rig.client.get("/admin/lockers").text  # settings.language = ko
        switched = rig.client.get("/admin/lockers?lang=en")
        assert "lk_lang=en" in switched.headers["set-cookie"]
        assert 'id="lang-toggle" href="/admin/lockers?lang=ko"' in switched.text
        assert "<h1>Lockers</h1>" in rig.client.get("/admin/lockers").text
        sorted_page = rig.client.get("/admin/rentals?sort=member&lang=ko")
        assert 'href="/admin/rentals?sort=member&amp;lang=en"' in sorted_page.text


def test_without_a_login_every_page_redirects_to_it(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        for path in PAGES:
            answer = rig.client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/admin/login"), path


def test_other_machines_reach_the_console_but_not_the_kiosk(tmp_path: Path) -> None:
    with console(
        tmp_path, client=("203.0.113.5", 5000), build=lambda ctx, clock: build_app(ctx)
    ) as rig:
        assert rig.client.get("/admin/login").status_code == 200
        assert rig.client.get("/admin/static/admin.css").status_code == 200
        assert rig.client.get("/api/state").status_code == 403
        assert rig.client.get("/").status_code == 403
        assert rig.client.get("/static/admin.css").status_code == 403
        assert rig.client.post("/api/scan", json={"code": "M1"}).status_code == 403
        logged_in(rig)
        assert rig.client.get("/admin/lockers").status_code == 200
        assert rig.events("admin_login")[0]["details"].endswith('"client": "203.0.113.5"}')


def test_the_grid_colours_each_locker_by_its_state(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        locker = rig.rent("M1")
        act(rig, "out_of_service", "5", "broken hook")
        page = rig.client.get("/admin/lockers?lang=en").text
        states = dict(
            re.findall(r'class="locker [^"]*" [^>]*data-locker="(\w+)" data-state="(\w+)"', page)
        )
        assert states[locker] == "rented" and states["5"] == "out_of_service"
        assert sorted(k for k, v in states.items() if v == "free") == sorted(
            set("12345678") - {locker, "5"}
        )
        assert "회원M1" in page
        assert re.search(
            r'data-state="rented"><span class="swatch[^>]*></span>Rented <span class="count">1<',
            page,
        )
        # A cabinet that stops answering shows as a warning.
        rig.call(rig.site.sims[0].unplug)
        rig.call(eventually, lambda: not rig.site.engine.online, why="link lost")
        assert 'id="offline"' in rig.client.get("/admin/lockers").text


def test_staff_actions_reach_the_ledger_with_the_account_name(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        first = rig.rent("M1")
        second = rig.rent("M2")
        done = act(rig, "force_return", first, "handed in at the desk", back="/admin/rentals")
        assert done.headers["location"] == "/admin/rentals"
        shown = flashes(rig.client.get("/admin/rentals?lang=en").text)
        assert shown and shown[0][0] == "success" and f"Locker {first}" in shown[0][1]
        act(rig, "mark_lost", second, "member lost it")
        assert flashes(rig.client.get(f"/admin/locker?n={second}").text)[0][0] == "success"
        act(rig, "out_of_service", "7", "hook loose")
        act(rig, "in_service", "7", "hook fixed")
        act(rig, "open_slot", "8", "refill", seconds="30")
        rows = {
            kind: rig.events(kind)
            for kind in (
                "admin_force_return",
                "admin_mark_lost",
                "admin_out_of_service",
                "admin_in_service",
                "admin_open_slot",
            )
        }
        for kind, found in rows.items():
            assert len(found) == 1, kind
            assert details(found[0])["staff"] == "kim", kind
        assert details(rows["admin_force_return"][0])["reason"] == "handed in at the desk"
        assert rows["admin_force_return"][0]["locker_number"] == first
        assert details(rows["admin_mark_lost"][0])["reason"] == "member lost it"
        assert details(rows["admin_in_service"][0])["reason"] == "hook fixed"
        assert rows["admin_open_slot"][0]["locker_number"] == "8"

        def statuses(ledger: Any) -> list[tuple[str, str, str | None]]:
            return [
                tuple(r)
                for r in ledger.conn.execute(
                    "SELECT locker_number, status, error_code FROM rentals ORDER BY rental_id"
                )
            ]

        assert rig.db(statuses) == [
            (first, "returned", "FORCED_RETURN"),
            (second, "abnormal", "KEY_LOST"),
        ]
        assert rig.site.engine.lockers["7"].service == "in_service"
        controller = rig.site.sims[0].controller
        rig.call(eventually, lambda: not controller.is_locked(8), why="slot 8 opened")
        page = rig.client.get(f"/admin/locker?n={first}&lang=en").text
        assert "Staff: force return" in page and "handed in at the desk" in page


def test_a_refused_action_shows_the_engines_reason(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        act(rig, "force_return", "3", "test")
        level, text = flashes(rig.client.get("/admin/locker?n=3&lang=en").text)[0]
        assert level == "error" and "3" in text
        act(rig, "force_return", "3", "test")
        level, text = flashes(rig.client.get("/admin/locker?n=3&lang=ko").text)[0]
        assert level == "error" and re.search("[가-힣]", text)


def test_an_action_needs_a_reason_and_sensible_seconds(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        act(rig, "out_of_service", "4", "   ")
        assert flashes(rig.client.get("/admin/locker?n=4&lang=en").text) == [
            ("error", "Please give a reason")
        ]
        act(rig, "open_slot", "4", "refill", seconds="soon")
        assert flashes(rig.client.get("/admin/locker?n=4&lang=en").text) == [
            ("error", "The open time is a number of seconds")
        ]
        assert rig.events("admin_out_of_service") == [] and rig.events("admin_open_slot") == []
        csrf = rig.csrf()
        unknown = rig.client.post(
            "/admin/actions/explode", data={"csrf": csrf, "locker": "4", "reason": "x"}
        )
        assert unknown.status_code == 404
        assert rig.client.get("/admin/locker?n=99").status_code == 404
        assert rig.client.get("/admin/member?id=nobody").status_code == 404


def test_a_wrong_slot_return_shows_in_alerts_and_can_be_settled(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        first = rig.rent("M1")
        second = rig.rent("M2")
        rig.return_into(first, second)
        page = rig.client.get("/admin/alerts?lang=en").text
        rows = re.findall(
            r'class="alert-row" data-kind="(\w+)" data-code="(\w*)" data-locker="(\w*)"', page
        )
        assert rows == [("set_aside", "WRONG_SLOT", second), ("set_aside", "WRONG_SLOT", first)]
        assert "Returned into the wrong slot" in page
        forms = re.findall(r'data-action="(\w+)" data-locker="(\w+)"', page)
        assert forms == [
            ("force_return", second),
            ("mark_lost", second),
            ("in_service", second),
            ("in_service", first),
        ]
        grid = rig.client.get("/admin/lockers").text
        assert f'data-locker="{first}" data-state="abnormal"' in grid
        act(rig, "in_service", first, "key put back by hand", back="/admin/alerts")
        page = rig.client.get("/admin/alerts?lang=en").text
        assert flashes(page)[0][0] == "success"
        assert ("in_service", first) not in re.findall(
            r'data-action="(\w+)" data-locker="(\w+)"', page
        )


@dataclass
class ShiftedClock(Clock):
    """The kiosk's wall clock some hours on (the pages read "now" from it)."""

    hours: float

    def now(self) -> Now:
        real = super().now()
        return Now(real.wall + timedelta(hours=self.hours), real.mono)


def test_rentals_sort_on_the_server_and_long_ones_stand_out(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        first = rig.rent("M2")
        second = rig.rent("M1")

        def order(sort: str) -> list[str]:
            page = rig.client.get(f"/admin/rentals?sort={sort}").text
            return re.findall(r'class="rental-row[^"]*" data-locker="(\w+)"', page)

        assert order("locker") == sorted([first, second], key=int)
        assert order("member") == [second, first]  # 회원M1 before 회원M2
        assert order("-member") == [first, second]
        assert order("since") == [first, second]
        assert order("-since") == [second, first]
        assert order("'; DROP TABLE rentals; --") == sorted([first, second], key=int)
        page = rig.client.get("/admin/rentals?sort=member").text
        assert 'data-sort="member" aria-sort="ascending"' in page
        assert 'href="/admin/rentals?sort=-member"' in page
        assert "rental-row long" not in page
        real = rig.site.kiosk.clock
        rig.site.kiosk.clock = ShiftedClock(5)
        try:
            later = rig.client.get("/admin/rentals?lang=en").text
        finally:
            rig.site.kiosk.clock = real
        assert len(re.findall(r'class="rental-row long"', later)) == 2
        assert "5 h 0 min" in later


def test_member_search_takes_wildcards_literally_and_escapes_names(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        rig.db(add_members, "B%1", "B_2", "BX2", "<b>bold</b>")
        rig.rent("M1")

        def found(query: str) -> list[str]:
            page = rig.client.get("/admin/members", params={"q": query}).text
            return re.findall(r'class="member-row" data-member="([^"]+)"', page)

        assert found("%") == ["B%1"]
        assert found("_") == ["B_2"]
        assert found("M1") == ["M1"]
        assert found("회원M") == ["M1", "M2", "M3"]
        assert found("nobody") == []
        assert 'id="no-members"' in rig.client.get("/admin/members?q=nobody").text
        page = rig.client.get("/admin/members", params={"q": "bold"}).text
        assert "<b>bold" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
        member = rig.client.get("/admin/member?id=M1&lang=en").text
        assert 'id="member" data-member="M1"' in member and "Rental history" in member
        assert len(re.findall(r'class="rental-row"', member)) == 1


def test_a_member_past_the_expiry_date_shows_as_expired(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        rig.db(functools.partial(add_members, expiry=date(2020, 1, 31)), "OLD1")
        rig.db(functools.partial(add_members, expiry=date(2099, 12, 31)), "NEW1")

        def status_of(member_id: str) -> str:
            page = rig.client.get("/admin/members", params={"q": member_id, "lang": "en"}).text
            row = re.search(r'data-member="' + member_id + r'">(.*?)</tr>', page, re.S)
            assert row, page
            return row.group(1)

        assert "Expired" in status_of("OLD1") and "Active" not in status_of("OLD1")
        assert "Active" in status_of("NEW1")
        member = rig.client.get("/admin/member?id=OLD1&lang=en").text
        assert "Expired" in member


def test_the_sync_runs_and_the_rows_skipped_are_shown(tmp_path: Path) -> None:
    from lockerkey.store import sync_store  # noqa: PLC0415

    with console(tmp_path) as rig:
        logged_in(rig)
        page = rig.client.get("/admin/backup?lang=en").text
        assert 'id="no-sync-runs"' in page
        now = datetime.now(UTC)
        run = rig.db(sync_store.start_run, "schedule", "gsheets", now)
        counts = {"members_read": 5, "members_added": 4, "bad_rows": 1, "rentals_appended": 2}
        bad = [{"row": 3, "barcode": "0003", "reason": "unknown status '휴면'"}]
        rig.db(
            functools.partial(
                sync_store.finish_run,
                status="ok",
                counts=counts,
                api_calls=7,
                details={"bad_rows": bad},
            ),
            run,
            now,
        )
        page = rig.client.get("/admin/backup?lang=en").text
        assert f'class="sync-run" data-status="ok" data-run="{run}"' in page
        assert "5 rows read, 4 added, 0 deactivated, 1 rows skipped" in page
        assert 'class="bad-row" data-row="3"' in page and "unknown status" in page


async def _failing_sync() -> None:
    raise RuntimeError("the sheet is gone")


def test_backup_now_and_the_sync_status(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        page = rig.client.get("/admin/backup?lang=en").text
        assert "No backups yet" in page and 'id="sync-not-set-up"' in page
        assert 'data-action="sync_now"' not in page
        assert 'data-backend="none"' in page
        done = rig.client.post("/admin/backup/run", data={"csrf": csrf_of(page)})
        assert done.status_code == 303 and done.headers["location"] == "/admin/backup"
        page = rig.client.get("/admin/backup?lang=en").text
        assert flashes(page)[0] == ("success", f"Backup written: {rig.backups[0]}")
        assert len(re.findall('class="backup-row"', page)) == 1 and rig.backups[0] in page
        assert details(rig.events("admin_backup")[0]) == {"account": "kim"}
        assert rig.events("backup")  # the job's own note
        refused = rig.client.post("/admin/sync/run", data={"csrf": csrf_of(page)})
        assert refused.status_code == 303 and rig.events("admin_sync") == []


def test_a_configured_sync_can_be_run_from_the_console(tmp_path: Path) -> None:
    runs: list[str] = []

    async def sync_now() -> None:
        runs.append("ran")

    with console(tmp_path, sync=sync_now, backup=False) as rig:
        logged_in(rig)
        page = rig.client.get("/admin/backup?lang=en").text
        assert 'data-action="sync_now"' in page and 'data-action="backup_now"' not in page
        rig.client.post("/admin/sync/run", data={"csrf": csrf_of(page)})
        assert runs == ["ran"]
        page = rig.client.get("/admin/backup?lang=en").text
        assert flashes(page)[0] == ("success", "Sync finished")
        assert details(rig.events("admin_sync")[0]) == {"account": "kim"}
        rig.client.post("/admin/backup/run", data={"csrf": csrf_of(page)})
        assert flashes(rig.client.get("/admin/backup?lang=en").text)[0][0] == "error"
        rig.ctx.sync_now = _failing_sync
        # The routes read the hook at request time: the new one runs.
        rig.client.post("/admin/sync/run", data={"csrf": rig.csrf("/admin/backup")})
        assert flashes(rig.client.get("/admin/backup?lang=en").text) == [
            ("error", "The sync failed: the sheet is gone")
        ]


def test_the_charts_page_inlines_three_svgs(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        logged_in(rig)
        rig.rent("M1")
        for lang in ("ko", "en"):
            page = rig.client.get(f"/admin/charts?lang={lang}").text
            for chart in ("hourly", "daily", "utilisation"):
                section = page.split(f'id="chart-{chart}"')[1]
                assert section.lstrip().split("</h2>", 1)[1].lstrip().startswith("<svg")
            assert "&lt;svg" not in page


def test_every_text_the_templates_use_exists_in_both_languages() -> None:
    from lockerkey.core.model import ErrorCode  # noqa: PLC0415
    from lockerkey.store import console as queries  # noqa: PLC0415
    from lockerkey.web.admin.actions import ACTIONS  # noqa: PLC0415
    from lockerkey.web.admin.base import NAV  # noqa: PLC0415
    from lockerkey.web.admin.texts import TEXTS, Translator  # noqa: PLC0415
    from lockerkey.web.static import TEMPLATES_DIR  # noqa: PLC0415

    for key, (ko, en) in TEXTS.items():
        assert ko.strip() and en.strip(), key
    used = set()
    for template in (TEMPLATES_DIR / "admin").glob("*.html"):
        used |= set(re.findall(r"\bt\('([\w.]+)'", template.read_text(encoding="utf-8")))
    dynamic = (
        [f"state.{s}" for s in queries.STATES]
        + [f"action.{a}" for a in ACTIONS]
        + [f"nav.{key}" for key, _ in NAV]
        + [f"code.{c}" for c in ErrorCode]
        + [f"kind.{k}" for k in queries.ALERT_KINDS]
        + [f"rental.{s}" for s in ("pending", "active", "returned", "abnormal", "cancelled")]
        + [f"member.{s}" for s in ("active", "suspended", "expired", "removed")]
        + [f"service.{s}" for s in ("in_service", "set_aside", "disabled")]
        + [f"key.{k}" for k in ("in", "out", "unknown")]
    )
    assert len(used) > 50
    used = {k for k in used if not k.endswith(".")}  # t('state.' ~ x): the dynamic list
    missing = sorted(k for k in used | set(dynamic) if k not in TEXTS)
    assert missing == []
    en = Translator("en")
    assert en.duration(timedelta(minutes=59, seconds=59)) == "59 min"
    assert en.duration(timedelta(hours=26, minutes=5)) == "26 h 5 min"
    assert en.duration(None) == "" and en.code("SOMETHING_NEW") == "SOMETHING_NEW"
    assert en.details({"code": "X", "actual": "4", "odd": None, "cabinet": 0}) == (
        "went into: 4 · cabinet: 0"
    )
