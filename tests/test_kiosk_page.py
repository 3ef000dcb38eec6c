"""The kiosk page in a real chromium against a real kiosk (daemon and cabinets as processes)."""

# Every screen at three screen sizes, taps, a keyboard-type reader, the language toggle and a
# daemon restart. The tests share one kiosk and run in file order; each uses members of its
# own, and the restart comes last.

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import artifact, chromium
from tests.processes import Lines, SimulatorProcess, run_to_end, spawn
from tests.webproc import WebSite

SIZES = ((800, 480), (1024, 600), (1280, 800))
WAIT_MS = 10_000  # a screen change normally takes well under a second
MIN_FONT_PX = 24
MIN_TOUCH_PX = 64
# A second cabinet of 116 lockers in a zone of its own: 140 lockers in all, so the choose
# screen has to page.
BIG_CABINET = """
[[cabinet]]
name = "big"
port = "cabinet3.link"
lockers = "25-140"

[[zone]]
name = "sauna"
lockers = "25-140"
"""
# A member of each test's own: a reader counts the same code again within 1.5 s only once.
MORE_MEMBERS = (
    "barcode,name,status,expiry_date,gender,category\n"
    + "".join(f"P0{n},가상회원{n},active,2099-12-31,M,regular\n" for n in range(1, 6))
    + "S01,가상직원2,active,2099-12-31,F,staff\n"
)
# Chromium's clock an hour off: the countdowns must not care.
SKEWED_CLOCK = "(() => { const real = Date.now; Date.now = () => real() + 3600000; })();"

# What does not fit: a page wider or taller than the screen, any visible element reaching past
# its edges, or any visible text under MIN_FONT_PX.
MISFITS = """
(minFont) => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const height = root.clientHeight;
  const problems = [];
  if (root.scrollWidth > width) problems.push(`page ${root.scrollWidth} px wide`);
  if (root.scrollHeight > height) problems.push(`page ${root.scrollHeight} px high`);
  const name = (el) => el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}.${el.className}`;
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility === "hidden") continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.left < -0.5 || box.right > width + 0.5) {
      problems.push(`${name(el)} spans x ${box.left}..${box.right}`);
    }
    if (box.top < -0.5 || box.bottom > height + 0.5) {
      problems.push(`${name(el)} spans y ${box.top}..${box.bottom}`);
    }
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (text && parseFloat(style.fontSize) < minFont) {
      problems.push(`${name(el)} "${el.textContent.trim()}" at ${style.fontSize}`);
    }
  }
  return problems;
}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSite]:
    """The standard web site (24 lockers) plus a 116-locker cabinet, for the whole module."""
    where: Path = tmp_path_factory.mktemp("kiosk-page")
    # Started first so the daemon finds it at once (WebSite starts the other one).
    big = SimulatorProcess(where, "--slots", "116", link="cabinet3.link")
    try:
        kiosk = WebSite(where, extra=BIG_CABINET)
    except BaseException:
        big.close()
        raise
    kiosk.cabinets["big"] = big
    (where / "more.csv").write_text(MORE_MEMBERS, encoding="utf-8")
    done = run_to_end(where, "members", "import", "more.csv")
    assert done.returncode == 0, done.stderr
    yield kiosk
    kiosk.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for the module."""
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser, site: WebSite) -> Iterator[Page]:
    """The kiosk page at 800×480, connected; fails the test on any uncaught script error."""
    # Each test starts with the kiosk idle, whatever the last one left.
    site.post("/api/cancel")
    context = browser.new_context(viewport={"width": 800, "height": 480})
    context.add_init_script(SKEWED_CLOCK)
    tab = context.new_page()
    errors: list[str] = []
    # Only the page's own failures: Chromium also logs refused requests as console errors.
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.goto(site.url + "/")
    expect(tab.locator("#phase")).to_have_attribute("data-connected", "true")
    yield tab
    context.close()
    assert not errors


def phase(page: Page, name: str) -> None:
    """Wait until the page shows ``name``."""
    expect(page.locator("#phase")).to_have_attribute("data-phase", name, timeout=WAIT_MS)


def scan(site: WebSite, code: str) -> None:
    """A scan as the page's reader would send it."""
    status, body = site.post("/api/scan", {"code": code})
    assert status == 202, body


def shoot(page: Page, screen: str) -> None:
    """Screenshot the current screen at every size and check it fits, in English too."""
    shown = page.get_attribute("#phase", "data-phase")
    html = page.locator("html")
    for lang in ("ko", "en"):
        if lang == "en":
            page.click("#lang-toggle")
            expect(html).to_have_attribute("lang", "en")
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            expect(page.locator("body")).to_have_attribute("data-viewport", f"{width}x{height}")
            if lang == "ko":
                page.screenshot(path=artifact(f"kiosk-{screen}-{width}x{height}.png"))
            problems = page.evaluate(MISFITS, MIN_FONT_PX)
            assert not problems, f"{screen} at {width}x{height} ({lang}): {problems}"
        if lang == "ko":
            # The screen did not change under the screenshots (a result screen times out).
            expect(page.locator("#phase")).to_have_attribute("data-phase", shown or "")
    page.click("#lang-toggle")
    expect(html).to_have_attribute("lang", "ko")
    page.set_viewport_size({"width": 800, "height": 480})


def buttons(page: Page) -> list[dict[str, Any]]:
    """The locker buttons shown: number, disabled, height."""
    found: list[dict[str, Any]] = page.eval_on_selector_all(
        ".locker-button",
        "els => els.map(b => ({number: b.dataset.locker, disabled: b.disabled,"
        " height: b.getBoundingClientRect().height, width: b.getBoundingClientRect().width}))",
    )
    return found


def test_every_screen_fits_at_every_size(page: Page, site: WebSite) -> None:
    shoot(page, "idle")
    expect(page.locator("#message")).to_have_text("회원카드 또는 락카키를 스캔해 주세요")

    scan(site, "W001")
    phase(page, "choose_locker")
    # Split by zone: the member's own zone first; a zone they may not use is all disabled.
    expect(page.locator(".zone-tab")).to_have_count(3)
    expect(page.locator('.zone-tab[aria-selected="true"]')).to_have_attribute("data-zone", "male")
    expect(page.locator(".locker-button")).to_have_count(12)
    expect(page.locator(".locker-button:disabled")).to_have_count(0)
    page.click('.zone-tab[data-zone="female"]')
    expect(page.locator(".locker-button:disabled")).to_have_count(12)
    page.click('.zone-tab[data-zone="male"]')
    shoot(page, "choose_locker")

    # Another member scans meanwhile: a passing notice over this member's screen.
    scan(site, "W002")
    expect(page.locator("#flash")).to_have_text("다른 회원이 이용 중입니다")
    shoot(page, "flash")
    phase(page, "choose_locker")

    page.click('.locker-button[data-locker="3"]')
    phase(page, "take_key")
    expect(page.locator("#big-number")).to_have_text("3")
    expect(page.locator("#phase")).to_have_attribute("data-sound", "attention")
    # The countdown runs down on the page's own clock (Chromium's wall clock is an hour off).
    seconds = int(page.get_attribute("#countdown", "data-seconds") or "0")
    assert 25 <= seconds <= 30
    page.wait_for_function(
        f"Number(document.querySelector('#countdown').dataset.seconds) < {seconds}"
    )
    shoot(page, "take_key")

    site.sim("per_slot", "take 3")
    phase(page, "success")
    expect(page.locator("#message")).to_have_text("3번 락카 대여 완료")
    expect(page.locator("#countdown")).to_contain_text("처음 화면으로")
    expect(page.locator("#phase")).to_have_attribute("data-sound", "success")
    shoot(page, "success")

    scan(site, "KEY-3")
    phase(page, "return_key")
    expect(page.locator("#big-number")).to_have_text("3")
    expect(page.locator("#big-label")).to_have_text("칸")
    shoot(page, "return_key")
    site.sim("per_slot", "insert 3")
    phase(page, "success")
    expect(page.locator("#message")).to_have_text("3번 락카 반납 완료. 감사합니다")

    scan(site, "W003")
    phase(page, "failure")
    expect(page.locator("#message")).to_have_text(
        "이용이 정지된 회원입니다. 데스크에 문의해 주세요"
    )
    expect(page.locator("#phase")).to_have_attribute("data-sound", "failure")
    shoot(page, "failure")

    for cabinet in ("per_slot", "big"):
        assert site.sim(cabinet, "unplug") == "ok"
    phase(page, "out_of_service")
    shoot(page, "out_of_service")
    for cabinet in ("per_slot", "big"):
        assert site.sim(cabinet, "replug").startswith("ok")
    phase(page, "idle")


def test_140_lockers_page_without_scrolling(page: Page, site: WebSite) -> None:
    scan(site, "P01")
    phase(page, "choose_locker")
    page.click('.zone-tab[data-zone="sauna"]')
    info = page.locator("#page-info")
    expect(info).to_have_attribute("data-page", "1")
    seen: list[str] = []
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        expect(page.locator("body")).to_have_attribute("data-viewport", f"{width}x{height}")
        pages = int(info.get_attribute("data-pages") or "0")
        assert pages > 1, f"116 lockers on one page at {width}x{height}"
        assert not page.evaluate(MISFITS, MIN_FONT_PX)
        shown = buttons(page)
        assert all(b["height"] >= MIN_TOUCH_PX and b["width"] >= MIN_TOUCH_PX for b in shown)
        if (width, height) == SIZES[0]:
            # Page through the whole zone at the smallest size: every locker, once, in order.
            page.screenshot(path=artifact(f"kiosk-choose_locker_140-{width}x{height}.png"))
            for number in range(1, pages + 1):
                expect(info).to_have_attribute("data-page", str(number))
                seen += [b["number"] for b in buttons(page)]
                if number < pages:
                    page.click("#page-next")
            expect(page.locator("#page-next")).to_be_disabled()
            page.click("#page-prev")
            expect(info).to_have_attribute("data-page", str(pages - 1))
    assert seen == [str(n) for n in range(25, 141)]
    page.click("#cancel")
    phase(page, "idle")


def test_a_refused_choice_says_why(page: Page, site: WebSite) -> None:
    scan(site, "P02")
    phase(page, "choose_locker")
    page.click('.zone-tab[data-zone="female"]')
    # Sound blocked outright: the refusal still shows, and nothing throws.
    page.evaluate("() => { window.AudioContext = () => { throw new Error('blocked'); }; }")
    # A stale screen: the tap reaches the kiosk, which refuses it.
    page.eval_on_selector('.locker-button[data-locker="13"]', "b => { b.disabled = false; }")
    page.click('.locker-button[data-locker="13"]')
    expect(page.locator("#flash")).to_have_text("13번 락카는 선택할 수 없습니다")
    expect(page.locator("#phase")).to_have_attribute("data-sound", "failure")
    phase(page, "choose_locker")
    page.click("#cancel")
    phase(page, "idle")


def test_staff_menu(page: Page, site: WebSite) -> None:
    # A key pulled from its locked slot: that locker is set aside.
    assert site.sim("per_slot", "force 5") == "ok"
    site.log.wait_for("forced_removal")  # said before the menu opens, not over it
    scan(site, "W005")
    phase(page, "staff_menu")
    # Every locker, coloured by its state, with a legend of the states shown.
    expect(page.locator('.locker-button[data-locker="5"]')).to_have_attribute(
        "data-state", "abnormal"
    )
    expect(page.locator('.locker-button[data-locker="4"]')).to_have_attribute("data-state", "free")
    expect(page.locator(".legend-item")).to_have_text(["빈 락카", "이상"])
    expect(page.locator("#cancel")).to_have_text("닫기")
    shoot(page, "staff_menu")
    page.click("#cancel")
    phase(page, "idle")

    scan(site, "S01")
    phase(page, "staff_menu")
    page.click('.zone-tab[data-zone="male"]')
    with page.expect_request("**/api/select") as request:
        page.click('.locker-button[data-locker="12"]')
    assert request.value.post_data_json == {"locker": "12"}
    phase(page, "success")
    expect(page.locator("#message")).to_have_text("12번 칸이 60초 동안 열립니다")


def reader_types(page: Page, code: str) -> None:
    """Type ``code`` and Enter as fast as a reader would."""
    # A load spike on the test machine can stretch one gap past the page's limit; the page
    # says at Enter how it took the keys (key events are handled before type() returns).
    for _ in range(3):
        page.keyboard.type(code + "\n", delay=5)
        if page.get_attribute("#phase", "data-reader") == "scan":
            return
    raise AssertionError(f"the page never took {code!r} for a scan")


def test_a_reader_typing_into_the_page_scans(page: Page, site: WebSite) -> None:
    scans: list[str] = []
    page.on(
        "request",
        lambda r: scans.append(r.post_data_json["code"]) if r.url.endswith("/api/scan") else None,
    )
    # A person typing: too slow to be a reader.
    page.keyboard.type("P03\n", delay=300)
    expect(page.locator("#phase")).to_have_attribute("data-reader", "ignored")
    # A reader: an expired member, so the answer shows at once and the kiosk stays idle.
    reader_types(page, "W004")
    phase(page, "failure")
    expect(page.locator("#message")).to_have_text("회원권이 2020-01-31에 만료되었습니다")
    assert scans == ["W004"]
    reader_types(page, "P03")
    phase(page, "choose_locker")
    assert scans == ["W004", "P03"]
    page.click("#cancel")
    phase(page, "idle")


def test_the_language_toggle_lasts_until_the_next_idle(page: Page, site: WebSite) -> None:
    toggle = page.locator("#lang-toggle")
    message = page.locator("#message")
    expect(toggle).to_have_text("English")
    toggle.click()
    expect(message).to_have_text("Scan your membership card or locker key")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(toggle).to_have_text("한국어")
    scan(site, "P04")
    phase(page, "choose_locker")
    expect(message).to_have_text("Choose a locker")
    expect(page.locator("#cancel")).to_have_text("Cancel")
    expect(page.locator('.zone-tab[data-zone="male"]')).to_contain_text("Men")
    toggle.click()
    expect(message).to_have_text("락카를 선택해 주세요")
    toggle.click()
    page.click("#cancel")
    phase(page, "idle")
    expect(message).to_have_text("회원카드 또는 락카키를 스캔해 주세요")
    expect(page.locator("html")).to_have_attribute("lang", "ko")


def test_the_texts_route(site: WebSite) -> None:
    texts = site.get("/api/texts")
    assert texts["ko"]["cancel"] == "취소"
    assert texts["en"]["idle"] == "Scan your membership card or locker key"


# Last: it restarts the module's daemon.
def test_the_page_reconnects_after_the_daemon_restarts(page: Page, site: WebSite) -> None:
    port = site.url.rsplit(":", 1)[1]
    site.proc.send_signal(signal.SIGTERM)
    assert site.proc.wait(timeout=10) == 0
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline-title")).to_have_text("연결 중입니다")
    page.screenshot(path=artifact("kiosk-offline-800x480.png"))
    # The same port again, as a restarted service would have.
    config = site.site / "lockerkey.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("port = 0", f"port = {port}"),
        encoding="utf-8",
    )
    site.proc = spawn(site.site, "run")
    assert site.proc.stderr is not None and site.proc.stdout is not None
    site.log = Lines(site.proc.stderr)
    site.screen = Lines(site.proc.stdout)
    site.log.wait_for(f":{port}/")
    expect(page.locator("#offline")).to_be_hidden(timeout=WAIT_MS)
    phase(page, "idle")
    scan(site, "P05")
    phase(page, "choose_locker")
    page.click("#cancel")
    phase(page, "idle")
