"""The staff console (/admin) in a real chromium against a real kiosk (daemon and simulated
cabinets as processes): logins, CSRF, logout, a forced return, a wrong-slot return in the
alerts, and the README's screenshots of the console (desktop and phone).

Members rent and return at the kiosk as they would: a scan sent as the kiosk's reader, the
locker chosen, the key taken or put back in the simulator. The kiosk page, open in a tab of
its own, says when each step is done; the ledger file is read at the end of each test. The
tests share one kiosk and run in file order; nothing sleeps.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from tests.browser import artifact, chromium_waiting
from tests.processes import run_to_end
from tests.webproc import WebSite

WAIT_MS = 10_000  # per step; each normally takes well under a second
ADMIN = "kim"
PASSWORD = "pw-kim-123456"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
SESSION_COOKIE = "lk_admin"
# Members of the screenshots' rentals (each rents once).
MORE_MEMBERS = (
    "barcode,name,status,expiry_date,gender,category\n"
    "A01,가상회원일,active,2099-12-31,M,regular\n"
    "A02,가상회원이,active,2099-12-31,M,regular\n"
    "A03,가상회원삼,active,2099-12-31,F,regular\n"
)
# Wider than the screen: the page itself, or any visible element reaching past its right edge
# (a table that scrolls inside its own box is fine: its box stays on the screen).
TOO_WIDE = """
() => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  if (document.documentElement.scrollWidth > width) {
    problems.push(`page ${document.documentElement.scrollWidth} px wide`);
  }
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    let clipped = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") { clipped = true; break; }
    }
    if (!clipped && (box.left < -0.5 || box.right > width + 0.5)) {
      const name = el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}.${el.className}`;
      problems.push(`${name} spans x ${box.left}..${box.right}`);
    }
  }
  return problems;
}
"""


# ---- the kiosk, the browser, a logged-in console -----------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """The standard web site (24 lockers, per-slot) with a console account, for the module."""
    where: Path = tmp_path_factory.mktemp("admin-browser")
    kiosk = WebSite(where, admins=((ADMIN, PASSWORD),))
    try:
        (where / "more.csv").write_text(MORE_MEMBERS, encoding="utf-8")
        done = run_to_end(where, "members", "import", "more.csv")
        assert done.returncode == 0, done.stderr
        yield kiosk
    finally:
        code = kiosk.stop()
    assert code == 0, kiosk.log.text()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """A shared-door cabinet (lockers 101-106 behind one door, no zones) with the account."""
    kiosk = WebSite(
        tmp_path_factory.mktemp("admin-shared"), kinds=("shared_door",), admins=((ADMIN, PASSWORD),)
    )
    try:
        yield kiosk
    finally:
        code = kiosk.stop()
    assert code == 0, kiosk.log.text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the file (and a longer wait per step, for this file only)."""
    with chromium_waiting(WAIT_MS) as launched:
        yield launched


@pytest.fixture(scope="module")
def kiosk(browser: Browser, site: WebSite) -> Iterator[Page]:
    """The kiosk page of ``site``, connected (it shows when a member's step is done)."""
    context = browser.new_context(viewport={"width": 800, "height": 480})
    try:
        yield kiosk_page(context, site)
    finally:
        context.close()


@pytest.fixture(scope="module")
def staff(browser: Browser, site: WebSite) -> Iterator[Page]:
    """A console tab of ``site``, logged in as the account, at 1280×800."""
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        log_in(page, site)
        yield page
    finally:
        context.close()


def kiosk_page(context: BrowserContext, site: WebSite) -> Page:
    """The kiosk page, idle and connected."""
    page = context.new_page()
    page.goto(site.url + "/")
    expect(page.locator("#phase")).to_have_attribute("data-connected", "true")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "idle")
    return page


def log_in(page: Page, site: WebSite, password: str = PASSWORD) -> None:
    """Log in through the login form; the lockers page shows the account's name."""
    page.goto(site.url + "/admin/login")
    page.fill("#login-name", ADMIN)
    page.fill("#login-password", password)
    page.click("#login-submit")
    expect(page.locator("#account")).to_have_text(ADMIN)
    expect(page).to_have_url(site.url + "/admin/")


def session_cookies(context: BrowserContext) -> list[Any]:
    """The console's session cookies in the context."""
    return [c for c in context.cookies() if c["name"] == SESSION_COOKIE]


def locker_url(site: WebSite, locker: str) -> str:
    """The console page of one locker."""
    return f"{site.url}/admin/locker?n={quote(locker)}"


def action_form(within: Page | Locator, action: str, locker: str) -> Locator:
    """One locker's action form (hook: form[data-action=A][data-locker=N])."""
    return within.locator(f'form[data-action="{action}"][data-locker="{locker}"]')


def ledger(site: WebSite, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of the site's ledger, read from the file (read-only) while the daemon runs."""
    path = (site.site / "data" / "locker.db").resolve()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def settled(site: WebSite) -> None:
    """Wait until the kiosk has handled all it was given so far (logins and logouts are
    queued to the ledger, not written before the answer): a cancel goes through the same
    first-in, first-out queue, and its answer comes once it is handled."""
    status, body = site.post("/api/cancel")
    assert status in (200, 409), body


def events(site: WebSite, kind: str) -> list[tuple[str | None, str | None, dict[str, Any]]]:
    """The ledger's events of one kind: (member, locker, details), oldest first."""
    rows = ledger(
        site,
        "SELECT member_id, locker_number, details FROM events WHERE kind = ? ORDER BY event_id",
        kind,
    )
    return [(member, locker, json.loads(details)) for member, locker, details in rows]


# ---- members at the kiosk -----------------------------------------------------------------


def phase(kiosk: Page, name: str) -> None:
    """Wait until the kiosk page shows ``name``."""
    expect(kiosk.locator("#phase")).to_have_attribute("data-phase", name)


def scan(site: WebSite, code: str) -> None:
    """A scan as the kiosk's reader sends it."""
    status, body = site.post("/api/scan", {"code": code})
    assert status == 202, body


def unlocked(site: WebSite, slot: int) -> None:
    """Wait until the daemon hears from the cabinet that the lock of ``slot`` opened."""
    site.log.wait_for(f"event 'lock' cabinet=0 slot={slot} value=False")


def rent(site: WebSite, kiosk: Page, member: str, locker: int) -> None:
    """``member`` rents ``locker`` at the per-slot cabinet: scan, choose, take the key."""
    scan(site, member)
    phase(kiosk, "choose_locker")
    status, body = site.post("/api/select", {"locker": str(locker)})
    assert status == 200, body
    phase(kiosk, "take_key")
    unlocked(site, locker)
    assert site.sim("per_slot", f"take {locker}") == "ok"
    phase(kiosk, "success")
    expect(kiosk.locator("#message")).to_have_text(f"{locker}번 락카 대여 완료")


def take_behind_the_door(site: WebSite, kiosk: Page, member: str, slot: int) -> None:
    """``member`` rents at the shared door: the door unlocks, they take the key of ``slot``."""
    scan(site, member)
    phase(kiosk, "take_key")
    unlocked(site, 0)
    for command in ("open 0", f"take {slot}", "close 0"):
        assert site.sim("shared_door", command) == "ok", command
    phase(kiosk, "success")
    expect(kiosk.locator("#message")).to_have_text(f"{100 + slot}번 락카 대여 완료")


# ---- the tests ----------------------------------------------------------------------------


def test_a_wrong_password_is_refused_and_the_right_one_lets_in(
    browser: Browser, site: WebSite
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        # Not logged in: the console sends you to its login page.
        page.goto(site.url + "/admin/")
        expect(page).to_have_url(site.url + "/admin/login")
        expect(page.locator("#login-form")).to_be_visible()
        expect(page.locator("#login-error")).to_have_count(0)
        page.screenshot(path=artifact("admin-login-1280x800.png"))

        page.fill("#login-name", ADMIN)
        page.fill("#login-password", "not-the-password")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.click("#login-submit")
        assert answer.value.status == 401
        expect(page.locator("#login-error")).to_be_visible()
        expect(page).to_have_url(site.url + "/admin/login")
        expect(page.locator("#login-name")).to_have_value(ADMIN)
        expect(page.locator("#account")).to_have_count(0)
        assert session_cookies(context) == []
        settled(site)
        assert events(site, "admin_login_failed")[-1][2]["account"] == ADMIN

        # The form again (a fresh login token), the right password this time.
        page.fill("#login-password", PASSWORD)
        page.click("#login-submit")
        expect(page).to_have_url(site.url + "/admin/")
        expect(page.locator("#account")).to_have_text(ADMIN)
        expect(page.locator('nav a[data-nav="lockers"]')).to_have_attribute("aria-current", "page")
        expect(page.locator(".locker")).to_have_count(24)
        (cookie,) = session_cookies(context)
        assert cookie["path"] == "/admin"
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        settled(site)
        assert events(site, "admin_login")[-1][2]["account"] == ADMIN
    finally:
        context.close()


def test_a_form_with_a_forged_csrf_token_does_nothing(staff: Page, site: WebSite) -> None:
    done_before = len(events(site, "admin_out_of_service"))
    staff.goto(locker_url(site, "7"))
    expect(staff.locator("#locker")).to_have_attribute("data-state", "free")
    form = action_form(staff, "out_of_service", "7")
    form.locator('input[name="reason"]').fill("문 경첩 고장")
    # A forged page would not know the session's token: the field altered, then left out.
    staff.evaluate(
        """() => {
            const form = document.querySelector(
                'form[data-action="out_of_service"][data-locker="7"]');
            form.elements.csrf.value = 'forged-' + form.elements.csrf.value;
        }"""
    )
    with staff.expect_response(lambda r: r.request.method == "POST") as answer:
        form.locator('button[type="submit"]').click()
    assert answer.value.status == 403
    expect(staff.locator("#forbidden")).to_be_visible()
    expect(staff.locator("#account")).to_have_text(ADMIN)  # the session itself goes on

    staff.goto(locker_url(site, "7"))
    form.locator('input[name="reason"]').fill("문 경첩 고장")
    form.locator('input[name="csrf"]').evaluate("(field) => field.remove()")
    with staff.expect_response(lambda r: r.request.method == "POST") as answer:
        form.locator('button[type="submit"]').click()
    assert answer.value.status == 403
    expect(staff.locator("#forbidden")).to_be_visible()

    # Nothing changed: the locker is in service, on the console and in the ledger.
    staff.goto(locker_url(site, "7"))
    expect(staff.locator("#locker")).to_have_attribute("data-state", "free")
    expect(action_form(staff, "in_service", "7")).to_have_count(0)
    assert ledger(site, "SELECT service FROM locker_status WHERE locker_number = '7'") == [
        ("in_service",)
    ]
    assert len(events(site, "admin_out_of_service")) == done_before

    # The same form untouched does it (so the refusals above were the token's doing).
    form.locator('input[name="reason"]').fill("문 경첩 고장")
    form.locator('button[type="submit"]').click()
    expect(staff.locator('.flash[data-level="success"]')).to_be_visible()
    expect(staff.locator("#locker")).to_have_attribute("data-state", "out_of_service")
    expect(action_form(staff, "in_service", "7")).to_have_count(1)
    assert ledger(site, "SELECT service FROM locker_status WHERE locker_number = '7'") == [
        ("disabled",)
    ]
    ((_, locker, details),) = events(site, "admin_out_of_service")[done_before:]
    assert locker == "7" and details["staff"] == ADMIN and details["reason"] == "문 경첩 고장"

    # And back in service, as the next tests expect to find it.
    back = action_form(staff, "in_service", "7")
    back.locator('input[name="reason"]').fill("수리 완료")
    back.locator('button[type="submit"]').click()
    expect(staff.locator("#locker")).to_have_attribute("data-state", "free")


def test_a_forced_return_from_the_console(staff: Page, kiosk: Page, site: WebSite) -> None:
    rent(site, kiosk, "W001", 3)
    staff.goto(site.url + "/admin/lockers")
    card = staff.locator('.locker[data-locker="3"]')
    expect(card).to_have_attribute("data-state", "rented")
    expect(card.locator(".member")).to_have_text("가상남성")
    card.click()
    expect(staff).to_have_url(locker_url(site, "3"))
    expect(staff.locator("#locker")).to_have_attribute("data-state", "rented")

    form = action_form(staff, "force_return", "3")
    form.locator('input[name="reason"]').fill("member left the key at the desk")
    form.locator('button[type="submit"]').click()
    expect(staff.locator('.flash[data-level="success"]')).to_contain_text("3번 락카를 반납 처리")
    expect(staff.locator("#locker")).not_to_have_attribute("data-state", "rented")
    # Nobody holds it now: neither a forced return nor a lost key is offered any more.
    expect(action_form(staff, "force_return", "3")).to_have_count(0)
    expect(action_form(staff, "mark_lost", "3")).to_have_count(0)
    expect(staff.locator(".rental-row")).to_have_count(1)
    expect(staff.locator(".rental-row")).to_contain_text("직원이 반납 처리")

    assert ledger(
        site, "SELECT member_id, status, error_code FROM rentals WHERE locker_number = '3'"
    ) == [("W001", "returned", "FORCED_RETURN")]
    ((member, locker, details),) = events(site, "admin_force_return")
    assert (member, locker) == ("W001", "3")
    assert details["staff"] == ADMIN and details["reason"] == "member left the key at the desk"
    assert ledger(site, "SELECT currently_renting FROM members WHERE member_id = 'W001'") == [
        (None,)
    ]

    # The key back in its slot (as staff would put it): the locker is free again.
    assert site.sim("per_slot", "insert 3") == "ok"
    site.log.wait_for("event 'key_back' locker 3")
    staff.reload()
    expect(staff.locator("#locker")).to_have_attribute("data-state", "free")


def test_logout_ends_the_session(browser: Browser, site: WebSite) -> None:
    context = browser.new_context(viewport=DESKTOP)
    replay = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        log_in(page, site)
        (cookie,) = session_cookies(context)
        done_before = len(events(site, "admin_out_of_service"))
        page.goto(locker_url(site, "8"))
        csrf = action_form(page, "out_of_service", "8").locator('input[name="csrf"]')
        token = csrf.get_attribute("value")
        assert token

        # The cookie alone is the session: from another browser it works, until the logout.
        replay.add_cookies([cookie])
        other = replay.new_page()
        other.goto(site.url + "/admin/lockers")
        expect(other.locator("#account")).to_have_text(ADMIN)

        page.click("#logout")
        expect(page).to_have_url(site.url + "/admin/login")
        expect(page.locator("#account")).to_have_count(0)
        assert session_cookies(context) == []
        settled(site)
        assert events(site, "admin_logout")[-1][2]["account"] == ADMIN
        page.goto(site.url + "/admin/")
        expect(page).to_have_url(site.url + "/admin/login")

        # The old cookie, replayed, is worth nothing now: an action with the old form token is
        # not done, and pages send you to the login.
        assert session_cookies(replay) == [cookie]
        answer = other.request.post(
            site.url + "/admin/actions/out_of_service",
            form={"csrf": token, "locker": "8", "reason": "replayed", "back": "/admin/"},
            max_redirects=0,
        )
        assert answer.status == 303
        assert answer.headers["location"] == "/admin/login"
        assert ledger(site, "SELECT service FROM locker_status WHERE locker_number = '8'") == [
            ("in_service",)
        ]
        assert len(events(site, "admin_out_of_service")) == done_before
        replay.add_cookies([cookie])  # the refusal told the browser to forget it
        other.goto(site.url + "/admin/lockers")
        expect(other).to_have_url(site.url + "/admin/login?next=%2Fadmin%2Flockers")
        expect(other.locator("#login-form")).to_be_visible()
        expect(other.locator("#account")).to_have_count(0)
    finally:
        replay.close()
        context.close()


def test_a_wrong_slot_return_shows_in_the_alerts(browser: Browser, shared: WebSite) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        kiosk = kiosk_page(context, shared)
        # Two members each take a key from behind the shared door (slots 1 and 2).
        take_behind_the_door(shared, kiosk, "W001", 1)
        take_behind_the_door(shared, kiosk, "W002", 2)
        # W001 returns: their key tag opens the door, and the key goes into slot 2, not 1.
        scan(shared, "KEY-101")
        phase(kiosk, "return_key")
        expect(kiosk.locator("#big-number")).to_have_text("101")
        unlocked(shared, 0)
        for command in ("open 0", "insert 2", "close 0"):
            assert shared.sim("shared_door", command) == "ok", command
        phase(kiosk, "failure")
        expect(kiosk.locator("#message")).to_contain_text("102번 칸")

        staff = context.new_page()
        log_in(staff, shared)
        staff.click('nav a[data-nav="alerts"]')
        expect(staff).to_have_url(shared.url + "/admin/alerts")
        wrong = staff.locator('.alert-row[data-code="WRONG_SLOT"]')
        expect(wrong).to_have_count(2)
        expect(wrong.first).to_contain_text("다른 칸에 반납")
        # Locker 101: its rental is closed, the locker set aside (put it back in service).
        target = staff.locator('.alert-row[data-code="WRONG_SLOT"][data-locker="101"]')
        expect(target.locator("form[data-action]")).to_have_count(1)
        expect(action_form(target, "in_service", "101")).to_have_count(1)
        # Locker 102: W002's rental still holds it, and its slot now holds 101's key.
        actual = staff.locator('.alert-row[data-code="WRONG_SLOT"][data-locker="102"]')
        for action in ("force_return", "mark_lost", "in_service"):
            expect(action_form(actual, action, "102")).to_have_count(1)
        staff.screenshot(path=artifact("admin-alerts-1280x800.png"))

        assert ledger(
            shared,
            "SELECT locker_number, status, error_code, return_actual_locker FROM rentals"
            " ORDER BY rental_id",
        ) == [("101", "abnormal", "WRONG_SLOT", "102"), ("102", "active", None, None)]
        staff.goto(locker_url(shared, "101"))
        expect(staff.locator("#locker")).to_have_attribute("data-state", "abnormal")
    finally:
        context.close()


def test_the_console_for_the_readme_and_on_a_phone(
    browser: Browser, staff: Page, kiosk: Page, site: WebSite
) -> None:
    # Some lockers rented, one set aside (its key pulled from the locked slot), one out of
    # service: every colour of a normal day.
    for member, number in (("A01", 2), ("A02", 9), ("W002", 15), ("A03", 20)):
        rent(site, kiosk, member, number)
    assert site.sim("per_slot", "force 5") == "ok"
    site.log.wait_for("event 'set_aside' locker 5 code=FORCED_REMOVAL")
    staff.set_viewport_size(DESKTOP)
    staff.goto(locker_url(site, "7"))
    out = action_form(staff, "out_of_service", "7")
    out.locator('input[name="reason"]').fill("문 경첩 고장")
    out.locator('button[type="submit"]').click()
    expect(staff.locator("#locker")).to_have_attribute("data-state", "out_of_service")
    staff.click('nav a[data-nav="lockers"]')
    expected = {"2": "rented", "5": "abnormal", "7": "out_of_service", "15": "rented", "1": "free"}
    for locker, state in expected.items():
        expect(staff.locator(f'.locker[data-locker="{locker}"]')).to_have_attribute(
            "data-state", state
        )
    expect(staff.locator('.legend [data-state="rented"] .count')).to_have_text("4")
    staff.screenshot(path=artifact("admin-lockers-1280x800.png"))

    staff.click('nav a[data-nav="charts"]')
    for chart in ("hourly", "daily", "utilisation"):
        expect(staff.locator(f"#chart-{chart} svg")).to_be_visible()
    staff.screenshot(path=artifact("admin-charts-1280x800.png"))

    staff.click('nav a[data-nav="rentals"]')
    expect(staff.locator("tr.rental-row")).to_have_count(4)

    # A phone: nothing reaches past the screen's right edge, on any page.
    staff.set_viewport_size(PHONE)
    pages = {  # each page and something it shows
        "/admin/lockers": '.locker[data-locker="24"]',
        "/admin/locker?n=5": '#locker[data-state="abnormal"]',
        "/admin/locker?n=15": 'form[data-action="force_return"]',
        "/admin/rentals": 'tr.rental-row[data-member="W002"]',
        "/admin/alerts": '.alert-row[data-code="FORCED_REMOVAL"]',
        "/admin/members?q=%EA%B0%80%EC%83%81": 'tr.member-row[data-member="W005"]',  # 가상
        "/admin/member?id=W002": '#member[data-member="W002"]',
        "/admin/charts": "#chart-utilisation svg",
        "/admin/backup": "#sync-status",
    }
    for path, shown in pages.items():
        staff.goto(site.url + path)
        expect(staff.locator(shown)).to_be_attached()
        expect(staff.locator("#account")).to_have_text(ADMIN)
        assert not staff.evaluate(TOO_WIDE), f"{path} at 390 px: {staff.evaluate(TOO_WIDE)}"
        if path == "/admin/lockers":
            staff.screenshot(path=artifact("admin-lockers-390x844.png"))
    phone = browser.new_context(viewport=PHONE)
    try:
        login = phone.new_page()
        login.goto(site.url + "/admin/login")
        expect(login.locator("#login-form")).to_be_visible()
        assert not login.evaluate(TOO_WIDE)
    finally:
        phone.close()
    staff.set_viewport_size(DESKTOP)
