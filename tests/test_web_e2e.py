"""A rental and a return played in a real browser: the kiosk page (/) and the simulator panel
(/sim) of ``lockerkey demo`` as a real process, in both cabinet kinds.

A person's part is played in the browser only: a member card or key tag is scanned in the
panel's list or typed into the kiosk page the way a keyboard-type reader types (a fast burst
ending in Enter), a locker is chosen on the kiosk page, keys are taken and put back by
clicking slots in the panel. The ledger file is checked at the end. Playwright's ``expect``
waits for each step; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser import artifact, chromium_waiting
from tests.test_sim_panel import DemoProcess

WAIT_MS = 10_000  # per step; each normally takes well under a second
RETURNED = "SELECT member_id, locker_number, status, return_verified FROM rentals"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the file (and a longer wait per step, for this file only)."""
    with chromium_waiting(WAIT_MS) as launched:
        yield launched


@pytest.fixture
def demo(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DemoProcess]:
    """The demo (``request.param``: its extra options), stopped cleanly afterwards."""
    running = DemoProcess(tmp_path, *request.param)
    try:
        yield running
    finally:
        code = running.stop()
    assert code == 0, running.out.text()


def open_pages(browser: Browser, demo: DemoProcess) -> tuple[Page, Page]:
    """The kiosk page and the panel, each in its own window, both showing the cabinet idle."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    kiosk, panel = context.new_page(), context.new_page()
    kiosk.goto(f"{demo.url}/")
    panel.goto(f"{demo.url}/sim")
    expect(kiosk.locator("#phase")).to_have_attribute("data-phase", "idle")
    expect(kiosk.locator("#phase")).to_have_attribute("data-connected", "true")
    expect(panel.locator("#sim")).to_have_attribute("data-live", "true")
    expect(panel.locator(".slot")).to_have_count(24)
    return kiosk, panel


def wedge_scan(page: Page, code: str) -> None:
    """A keyboard-type reader: the code's characters in a quick burst, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def slot(panel: Page, number: int) -> Locator:
    """A slot of the panel's (only) cabinet."""
    return panel.locator(f'.slot[data-cabinet="0"][data-slot="{number}"]')


def keep_screens(name: str, kiosk: Page, panel: Page) -> None:
    """What both windows showed last, into test-artifacts/ (for a failed run)."""
    kiosk.screenshot(path=artifact(f"e2e-{name}-kiosk.png"), full_page=True)
    panel.screenshot(path=artifact(f"e2e-{name}-panel.png"), full_page=True)


@pytest.mark.parametrize("demo", [()], indirect=True, ids=["per_slot"])
def test_a_rental_and_a_return_at_a_per_slot_cabinet(browser: Browser, demo: DemoProcess) -> None:
    kiosk, panel = open_pages(browser, demo)
    phase = kiosk.locator("#phase")
    try:
        # The member card, scanned from the panel's list of sample cards.
        panel.locator('.code[data-code="M0001"]').click()
        expect(phase).to_have_attribute("data-phase", "choose_locker")
        # M0001 is a man: the men's lockers are offered, the women's are not.
        expect(kiosk.locator('.locker-button[data-locker="3"]')).to_be_enabled()
        kiosk.locator('.locker-button[data-locker="3"]').click()
        expect(phase).to_have_attribute("data-phase", "take_key")

        # The kiosk unlocked slot 3 over the serial link; the panel shows it open.
        key = slot(panel, 3)
        expect(key).to_have_attribute("data-lock", "open")
        expect(slot(panel, 4)).to_have_attribute("data-lock", "locked")
        key.click()
        expect(key).to_have_attribute("data-key", "out")
        expect(phase).to_have_attribute("data-phase", "success")
        expect(kiosk.locator("#message")).to_contain_text("3번 락카 대여 완료")
        expect(key).to_have_attribute("data-lock", "locked")  # relocked after the rental

        # The return: the key tag typed into the kiosk page by a keyboard-type reader.
        wedge_scan(kiosk, "KEY-3")
        expect(phase).to_have_attribute("data-phase", "return_key")
        expect(key).to_have_attribute("data-lock", "open")
        key.click()
        expect(key).to_have_attribute("data-key", "in")
        expect(phase).to_have_attribute("data-phase", "success")
        expect(kiosk.locator("#message")).to_contain_text("3번 락카 반납 완료")
        expect(key).to_have_attribute("data-lock", "locked")
    except BaseException:
        keep_screens("per-slot", kiosk, panel)
        raise
    assert demo.query(RETURNED) == [("M0001", "3", "returned", 1)]


@pytest.mark.parametrize("demo", [("--shared-door",)], indirect=True, ids=["shared_door"])
def test_a_rental_and_a_return_at_a_shared_door(browser: Browser, demo: DemoProcess) -> None:
    kiosk, panel = open_pages(browser, demo)
    phase = kiosk.locator("#phase")
    cabinet = panel.locator('.cabinet[data-cabinet="0"]')
    door = panel.locator('.door-toggle[data-cabinet="0"]')
    try:
        expect(cabinet).to_have_attribute("data-kind", "shared_door")
        expect(cabinet).to_have_attribute("data-door-lock", "locked")
        # The member card, typed into the kiosk page by a keyboard-type reader.
        wedge_scan(kiosk, "M0002")
        # A shared door: no locker to choose, the door unlocks and any key may be taken.
        expect(phase).to_have_attribute("data-phase", "take_key")
        expect(cabinet).to_have_attribute("data-door-lock", "open")
        door.click()
        expect(cabinet).to_have_attribute("data-door", "open")
        key = slot(panel, 5)
        key.click()
        expect(key).to_have_attribute("data-key", "out")
        door.click()
        expect(cabinet).to_have_attribute("data-door", "closed")
        expect(phase).to_have_attribute("data-phase", "success")
        expect(kiosk.locator("#message")).to_contain_text("5번 락카 대여 완료")
        expect(cabinet).to_have_attribute("data-door-lock", "locked")

        # The return: the key tag, scanned from the panel's list.
        panel.locator('.code[data-code="KEY-5"]').click()
        expect(phase).to_have_attribute("data-phase", "return_key")
        expect(cabinet).to_have_attribute("data-door-lock", "open")
        key.click()
        expect(key).to_have_attribute("data-key", "in")
        expect(phase).to_have_attribute("data-phase", "success")
        expect(kiosk.locator("#message")).to_contain_text("5번 락카 반납 완료")
    except BaseException:
        keep_screens("shared-door", kiosk, panel)
        raise
    assert demo.query(RETURNED) == [("M0002", "5", "returned", 1)]
