"""The kiosk screen model: the engine's view, result screens and flashes that time out."""

from __future__ import annotations

import asyncio

from lockerkey.core.events import KeySensed, Scan, Select, Snapshot
from lockerkey.core.layout import Policy
from lockerkey.core.state import Phase
from lockerkey.web.screen import ScreenModel
from tests.conftest import SEOUL, Rig, member, per_slot_layout


def make(rig: Rig, **options: float) -> ScreenModel:
    return ScreenModel(
        lambda: rig.engine, "ko", monotonic=lambda: rig.t, wall=lambda: rig.now().wall, **options
    )


def chooser() -> Rig:
    zones = {"low": (["1", "2", "3"], {"gender": ["M"]}), "high": (["4", "5", "6"], {})}
    rig = Rig(per_slot_layout(6, zones), Policy(timeout_s=30, tz=SEOUL, selection="choose"))
    rig.online()
    return rig


def test_idle_says_scan_in_both_languages(rig: Rig) -> None:
    state = make(rig).state()
    assert state["phase"] == "idle"
    assert state["messages"] == {
        "ko": "회원카드 또는 락카키를 스캔해 주세요",
        "en": "Scan your membership card or locker key",
    }
    assert make(rig).state("en")["message"] == state["messages"]["en"]
    assert make(rig).state("fr")["language"] == "ko"  # unknown: the configured language


def test_choose_lists_every_locker_with_its_zone() -> None:
    rig = chooser()
    screen = make(rig)
    screen.on_step(rig.do(Scan("M1", member("M1", gender="M"))))
    state = screen.state()
    assert state["phase"] == "choose_locker"
    assert [(r["number"], r["zone"], r["enabled"]) for r in state["lockers"]] == [
        ("1", "low", True),
        ("2", "low", True),
        ("3", "low", True),
        ("4", "high", True),
        ("5", "high", True),
        ("6", "high", True),
    ]
    assert state["seconds_left"] == 30.0
    rig.t += 12.5
    assert make(rig).state()["seconds_left"] == 17.5


def test_a_rental_ends_on_a_success_screen_that_times_out() -> None:
    rig = chooser()
    screen = make(rig, result_s=5.0)
    screen.on_step(rig.do(Scan("M1", member("M1", gender="M"))))
    screen.on_step(rig.do(Select("2")))
    assert screen.state()["phase"] == "take_key"
    assert screen.state()["message"] == "2번 락카키를 가져가세요"
    screen.on_step(rig.do(KeySensed(0, 2, present=False)))
    done = screen.state("en")
    assert (done["phase"], done["level"], done["message"]) == (
        "success",
        "success",
        "Locker 2 is yours",
    )
    assert done["deadline"] is None and done["until"] is not None
    rig.t += 4.9
    assert screen.state()["phase"] == "success"
    rig.t += 0.2
    assert screen.state()["phase"] == "idle"


def test_a_refusal_is_a_failure_screen(rig: Rig) -> None:
    screen = make(rig)
    screen.on_step(rig.do(Scan("NOBODY", None)))
    state = screen.state("en")
    assert (state["phase"], state["message"]) == ("failure", "This card is not registered")


def test_a_notice_during_a_step_flashes_over_it() -> None:
    rig = chooser()
    screen = make(rig, flash_s=4.0)
    screen.on_step(rig.do(Scan("M1", member("M1", gender="M"))))
    screen.on_step(rig.do(Scan("M2", member("M2"))))  # another member: busy
    state = screen.state("en")
    assert state["phase"] == "choose_locker"
    assert state["message"] == "Choose a locker"  # the step's own message stays
    assert state["flash"]["message"] == "Another member is using the machine"
    rig.t += 4.1
    assert screen.state()["flash"] is None


def test_a_new_scan_replaces_the_result_screen(rig: Rig) -> None:
    screen = make(rig)
    screen.on_step(rig.do(Scan("NOBODY", None)))
    assert screen.state()["phase"] == "failure"
    screen.on_step(rig.do(Scan("M1", member("M1"))))
    assert screen.state()["phase"] == "choose_locker"


def test_out_of_service_shows_why() -> None:
    rig = Rig()
    screen = make(rig)
    screen.on_step(rig.begin())
    assert screen.state()["phase"] == "out_of_service"
    assert screen.state("en")["message"] == "Out of service. Please ask staff"
    step = rig.do(Snapshot(0, "-111111", "-------", "-111111"))
    screen.on_step(step)
    assert rig.engine.phase is Phase.IDLE
    assert screen.state()["phase"] == "idle"


async def test_waiters_wake_on_a_change_and_when_a_result_expires(rig: Rig) -> None:
    screen = ScreenModel(lambda: rig.engine, "ko", result_s=0.05)
    seen = screen.seq
    waiter = asyncio.create_task(screen.wait_change(seen))
    await asyncio.sleep(0)
    assert not waiter.done()
    screen.on_step(rig.do(Scan("NOBODY", None)))
    assert await waiter == seen + 1
    assert screen.state()["phase"] == "failure"
    # The result screen's own timer announces its end: no event needed.
    await screen.wait_change(seen + 1)
    assert screen.state()["phase"] == "idle"
