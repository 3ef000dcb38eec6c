"""The demo's simulator panel (/sim): its JSON API on the demo's own objects, and the demo as a
real process serving it.

In-process tests run the whole demo (simulators on ptys, the serial driver, the daemon, the
web app) in the test's event loop and talk to the app through httpx's ASGI transport, which
lets a test choose the client address. Every panel action goes through the simulator: the
kiosk learns of it only from the controller's lines, as it would from a real cabinet.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sqlite3
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from lockerkey.config import demo_settings
from lockerkey.core.state import Phase
from lockerkey.demo import Demo, demo_admin, prepare
from lockerkey.store import accounts, reports
from lockerkey.store.ledger import Ledger
from tests.processes import Lines, spawn

LOCAL = ("127.0.0.1", 50123)
WAIT = 10.0


async def until(check: Callable[[], Any], what: str) -> Any:
    """Poll a condition (the cabinet and the kiosk run in this loop) until it holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT
    while not (value := check()):
        assert loop.time() < end, f"not within {WAIT} s: {what}"
        await asyncio.sleep(0.02)
    return value


@asynccontextmanager
async def running(tmp_path: Path, shared_door: bool = False) -> AsyncIterator[Demo]:
    """The web demo, ready, in this event loop (its web server on a free port too)."""
    settings, _ = prepare(tmp_path / "demo", shared_door=shared_door, port=0)
    demo = Demo(settings, out=lambda _text: None, delay=0.05)
    await demo.plug_in()
    runner = asyncio.create_task(demo.daemon.serve())
    try:
        await until(lambda: demo.kiosk.ready.is_set() or runner.done(), "the kiosk is ready")
        assert not runner.done()
        yield demo
    finally:
        demo.daemon.stop.set()
        await runner
        await demo.kiosk.close()
        for sim in demo.sims:
            await sim.stop()


def client(demo: Demo, address: tuple[str, int] = LOCAL) -> httpx.AsyncClient:
    """An HTTP client of the demo's web app, as if from ``address``."""
    assert demo.service is not None
    transport = httpx.ASGITransport(app=demo.service.app, client=address)
    return httpx.AsyncClient(transport=transport, base_url="http://kiosk")


async def lockers(demo: Demo) -> dict[str, dict[str, Any]]:
    """The ledger's locker table, by locker number."""
    rows = await demo.kiosk.db(reports.locker_table, demo.ledger)
    return {row["locker"]: row for row in rows}


async def rentals(demo: Demo) -> list[tuple[str, str, str]]:
    """(member, locker, status) of every rental in the ledger."""

    def read(ledger: Ledger) -> list[tuple[str, str, str]]:
        rows = ledger.conn.execute(
            "SELECT member_id, locker_number, status FROM rentals ORDER BY rental_id"
        )
        return [tuple(row) for row in rows]

    return await demo.kiosk.db(read, demo.ledger)


def phase(demo: Demo) -> Phase:
    """The kiosk's phase now."""
    return demo.kiosk.engine.phase


def slot(state: dict[str, Any], number: int) -> dict[str, Any]:
    """One slot of the first cabinet in a panel state."""
    found: dict[str, Any] = state["cabinets"][0]["slots"][number - 1]
    return found


async def test_state_draws_every_slot_and_the_sample_cards(tmp_path: Path) -> None:
    async with running(tmp_path) as demo, client(demo) as web:
        page = await web.get("/sim")
        assert page.status_code == 200
        assert "/static/sim.js" in page.text
        state = (await web.get("/sim/api/state")).json()
        (cabinet,) = state["cabinets"]
        assert cabinet["kind"] == "per_slot"
        assert cabinet["door"] is None
        assert [s["locker"] for s in cabinet["slots"]] == [str(n) for n in range(1, 25)]
        assert slot(state, 7) == {
            "slot": 7,
            "locker": "7",
            "tag": "KEY-7",
            "key": True,
            "locked": True,
            "reachable": False,
        }
        assert state["auto"] is False  # web mode: the person clicks
        notes = {card["code"]: card["note"]["en"] for card in state["cards"]}
        assert list(notes) == ["M0001", "M0002", "M0003", "M0004", "M0005", "M0006"]
        assert "suspended" in notes["M0003"]
        assert "expired" in notes["M0004"]
        assert "staff card" in notes["M0005"]
        assert (await web.get("/static/sim.css")).status_code == 200


async def test_a_rental_and_a_return_played_in_the_panel(tmp_path: Path) -> None:
    async with running(tmp_path) as demo, client(demo) as web:
        answer = await web.post("/sim/api/scan", json={"code": "M0001"})
        assert answer.status_code == 202
        await until(lambda: phase(demo) is Phase.CHOOSE_LOCKER, "the locker choice")
        assert (await web.post("/api/select", json={"locker": "2"})).status_code == 200
        # The kiosk unlocked slot 2 over the serial link: the panel shows its lock open.
        await until(lambda: not demo.sims[0].controller.is_locked(2), "slot 2 unlocked")
        state = (await web.get("/sim/api/state")).json()
        assert slot(state, 2)["locked"] is False
        assert slot(state, 2)["reachable"] is True
        assert slot(state, 3)["locked"] is True

        answer = await web.post("/sim/api/take", json={"cabinet": 0, "slot": 2})
        assert answer.status_code == 200, answer.text
        assert slot(answer.json()["state"], 2)["key"] is False
        assert demo.sims[0].controller.key_present(2) is False
        # The key sensor's report reached the kiosk through the link and the ledger.
        await until(lambda: phase(demo) is Phase.IDLE, "the rental ends")
        assert await rentals(demo) == [("M0001", "2", "active")]
        assert (await lockers(demo))["2"]["key"] == "out"
        await until(lambda: demo.sims[0].controller.is_locked(2), "slot 2 relocked")

        assert (await web.post("/sim/api/scan", json={"code": "KEY-2"})).status_code == 202
        await until(lambda: phase(demo) is Phase.RETURN_KEY, "the return")
        answer = await web.post("/sim/api/insert", json={"slot": 2})
        assert answer.status_code == 200, answer.text
        assert slot(answer.json()["state"], 2)["key"] is True
        await until(lambda: phase(demo) is Phase.IDLE, "the return ends")
        assert await rentals(demo) == [("M0001", "2", "returned")]
        assert (await lockers(demo))["2"]["key"] == "in"


async def test_a_locked_key_comes_out_only_when_forced(tmp_path: Path) -> None:
    async with running(tmp_path) as demo, client(demo) as web:
        answer = await web.post("/sim/api/take", json={"slot": 5})
        assert answer.status_code == 409
        assert answer.json()["message"]["en"].startswith("Locked")
        assert "Shift+클릭" in answer.json()["message"]["ko"]
        assert demo.sims[0].controller.key_present(5)

        answer = await web.post("/sim/api/take", json={"slot": 5, "force": True})
        assert answer.status_code == 200
        assert slot(answer.json()["state"], 5)["key"] is False

        async def set_aside() -> bool:
            return (await lockers(demo))["5"]["service"] == "set_aside"

        loop = asyncio.get_running_loop()
        end = loop.time() + WAIT
        while not await set_aside():  # the kiosk took it as a forced removal
            assert loop.time() < end, await lockers(demo)
            await asyncio.sleep(0.02)
        assert (await lockers(demo))["5"]["service_reason"] is not None
        answer = await web.post("/sim/api/take", json={"slot": 5, "force": True})
        assert answer.status_code == 409
        assert answer.json()["message"]["en"] == "slot 5 holds no key"


async def test_the_shared_door(tmp_path: Path) -> None:
    async with running(tmp_path, shared_door=True) as demo, client(demo) as web:
        state = (await web.get("/sim/api/state")).json()
        (cabinet,) = state["cabinets"]
        assert cabinet["kind"] == "shared_door"
        assert cabinet["door"] == {"open": False, "locked": True}
        assert all(s["locked"] and not s["reachable"] for s in cabinet["slots"])

        answer = await web.post("/sim/api/door", json={"open": True})
        assert answer.status_code == 409
        assert "locked" in answer.json()["message"]["en"]
        answer = await web.post("/sim/api/door", json={"open": True, "force": True})
        assert answer.status_code == 200
        door = answer.json()["state"]["cabinets"][0]
        assert door["door"] == {"open": True, "locked": True}
        assert all(s["reachable"] for s in door["slots"])
        assert (await web.post("/sim/api/door", json={"open": True})).status_code == 409
        assert (await web.post("/sim/api/door", json={"open": False})).status_code == 200
        assert demo.sims[0].controller.door_open(0) is False

        # A rental: the kiosk unlocks the door; any key may be taken.
        await web.post("/sim/api/scan", json={"code": "M0002"})
        await until(lambda: not demo.sims[0].controller.is_locked(0), "the door unlocked")
        state = (await web.get("/sim/api/state")).json()
        assert state["cabinets"][0]["door"]["locked"] is False
        assert (await web.post("/sim/api/take", json={"slot": 7})).status_code == 200
        await until(lambda: phase(demo) is Phase.IDLE, "the rental ends")
        assert await rentals(demo) == [("M0002", "7", "active")]


async def test_the_auto_member_toggle(tmp_path: Path) -> None:
    async with running(tmp_path) as demo, client(demo) as web:
        demo.set_auto(False)
        answer = await web.post("/sim/api/auto", json={"on": True})
        assert answer.status_code == 200
        assert answer.json()["state"]["auto"] is True
        assert all(sim.auto is not None for sim in demo.sims)
        await web.post("/sim/api/scan", json={"code": "M0006"})
        await until(lambda: phase(demo) is Phase.CHOOSE_LOCKER, "the locker choice")
        await web.post("/api/select", json={"locker": "15"})
        # Nobody clicks: the pretend member takes the key.
        await until(lambda: not demo.sims[0].controller.key_present(15), "the key taken")
        await until(lambda: phase(demo) is Phase.IDLE, "the rental ends")
        assert await rentals(demo) == [("M0006", "15", "active")]
        answer = await web.post("/sim/api/auto", json={"on": False})
        assert answer.json()["state"]["auto"] is False
        assert all(sim.auto is None for sim in demo.sims)


@pytest.mark.parametrize("shared_door", [False, True])
async def test_the_tour_has_the_pretend_member_and_leaves_it_off(
    tmp_path: Path, shared_door: bool
) -> None:
    async with running(tmp_path, shared_door) as demo:
        assert demo.panel is not None
        await demo.tour()
        assert not demo.panel.auto  # web mode: after the tour the person clicks again
        held = "1" if shared_door else "3"
        returned = "2" if shared_door else "14"
        assert await rentals(demo) == [("M0001", held, "active"), ("M0002", returned, "returned")]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/sim/api/take", {"slot": 25}, 404),
        ("/sim/api/take", {"slot": 0}, 404),
        ("/sim/api/take", {"cabinet": 1, "slot": 1}, 404),
        ("/sim/api/take", {"slot": "3"}, 400),
        ("/sim/api/take", {"slot": True}, 400),
        ("/sim/api/take", {"slot": 3, "force": "yes"}, 400),
        ("/sim/api/take", [3], 400),
        ("/sim/api/insert", {"slot": 3}, 409),
        ("/sim/api/door", {"open": True}, 409),
        ("/sim/api/scan", {"code": ""}, 422),
        ("/sim/api/scan", {"code": "M0001\x1b"}, 422),
        ("/sim/api/scan", {}, 400),
        ("/sim/api/auto", {"on": 1}, 400),
    ],
)
async def test_bad_requests_change_nothing(
    tmp_path: Path, path: str, body: object, status: int
) -> None:
    async with running(tmp_path) as demo, client(demo) as web:
        before = (await web.get("/sim/api/state")).json()
        answer = await web.post(path, json=body)
        assert answer.status_code == status, answer.text
        assert answer.json()["ok"] is False
        assert set(answer.json()["message"]) == {"ko", "en"}
        assert (await web.get("/sim/api/state")).json() == before
        assert phase(demo) is Phase.IDLE


async def test_a_body_that_is_not_json_is_refused(tmp_path: Path) -> None:
    async with running(tmp_path) as demo, client(demo) as web:
        answer = await web.post("/sim/api/take", content=b"slot=3")
        assert answer.status_code == 400


async def test_the_panel_is_refused_to_other_machines(tmp_path: Path) -> None:
    async with running(tmp_path) as demo, client(demo, ("192.0.2.10", 40000)) as web:
        for path in ("/sim", "/sim/api/state"):
            assert (await web.get(path)).status_code == 403, path
        for path, body in (
            ("/sim/api/take", {"slot": 1, "force": True}),
            ("/sim/api/door", {"open": True, "force": True}),
            ("/sim/api/scan", {"code": "M0001"}),
            ("/sim/api/auto", {"on": True}),
        ):
            answer = await web.post(path, json=body)
            assert answer.status_code == 403, path
            assert answer.json()["reason"] == "kiosk_only"
        assert demo.sims[0].controller.key_present(1)
        assert all(sim.auto is None for sim in demo.sims)
        assert phase(demo) is Phase.IDLE


def test_demo_settings_of_the_shared_door(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path, shared_door=True, host="::1", port=0)
    (cabinet,) = settings.cabinets
    assert cabinet.kind == "shared_door"
    assert len(cabinet.lockers) == 24
    assert settings.zones == ()
    assert (settings.web.host, settings.web.port) == ("::1", 0)
    assert demo_settings(tmp_path, web=False).web.enabled is False


def test_the_demo_admin_password_opens_the_console_account(tmp_path: Path) -> None:
    settings, _ = prepare(tmp_path, port=0)
    first, second = demo_admin(settings), demo_admin(settings)
    assert first != second  # a new one every run
    ledger = Ledger.open(settings.db_path)
    try:
        stored = accounts.password_hash(ledger, "demo")
    finally:
        ledger.close()
    assert stored is not None
    assert accounts.verify_password(second, stored[0])
    assert not accounts.verify_password(first, stored[0])


# ---- the demo as a real process ------------------------------------------------------------


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """GET (or POST JSON to) a URL; (status, decoded body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


class DemoProcess:
    """``lockerkey demo --no-tour --port 0`` in ``site``, stdin kept open; its URLs parsed."""

    def __init__(self, site: Path, *options: str) -> None:
        self.db = site / "demo" / "locker.db"
        self.proc = spawn(site, "demo", "--no-tour", "--port", "0", "--data-dir", "demo", *options)
        assert self.proc.stdout is not None
        self.out = Lines(self.proc.stdout)
        # The URLs come first, before any line of the kiosk's own.
        self.first = self.out.wait_for("lockerkey demo:")
        found = re.search(r"(http://127\.0\.0\.1:\d+)/$", self.out.wait_for("kiosk screen"))
        self.panel_line = self.out.wait_for("simulator panel")
        login = re.search(r"/admin +user demo, password (\S+)", self.out.wait_for("admin console"))
        assert found and login, self.out.text()
        self.url = found.group(1)
        self.password = login.group(1)

    def type(self, line: str) -> None:
        """A line typed into the demo's terminal."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of the demo's ledger, read from the SQLite file as another process would."""
        with closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql).fetchall()

    def stop(self) -> int:
        """End of input ends the demo; its exit status."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def test_the_demo_process_prints_its_urls_and_serves_the_panel(tmp_path: Path) -> None:
    demo = DemoProcess(tmp_path)
    try:
        assert demo.out.seen[0] is demo.first
        assert "24 lockers" in demo.first
        assert f"{demo.url}/sim" in demo.panel_line
        status, state = http(f"{demo.url}/sim/api/state")
        assert status == 200
        assert len(state["cabinets"][0]["slots"]) == 24
        status, answer = http(f"{demo.url}/sim/api/take", {"slot": 9, "force": True})
        assert status == 200, answer
        demo.out.wait_for("Key 9 left a locked slot")  # the kiosk's alert, on the terminal
        assert demo.query(
            "SELECT sensor_status, service FROM locker_status WHERE locker_number = '9'"
        ) == [(0, "set_aside")]
        ((stored,),) = demo.query("SELECT password_hash FROM admin_accounts WHERE name = 'demo'")
        assert accounts.verify_password(demo.password, stored)
        demo.type("M0001")
        demo.out.wait_for("[choose_locker]")  # the terminal still reads codes
        demo.type("/auto on")
        demo.out.wait_for("pretend member on")
        assert http(f"{demo.url}/sim/api/state")[1]["auto"] is True
    finally:
        code = demo.stop()
    assert code == 0, demo.out.text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_demo_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    demo = DemoProcess(tmp_path)
    try:
        demo.out.wait_for("Type a code")  # the console is reading
        demo.proc.send_signal(sig)
        assert demo.proc.wait(timeout=20) == 0, demo.out.text()
    finally:
        demo.stop()
    assert "[out_of_service]" in demo.out.text()  # the kiosk shut down and locked up
    with pytest.raises(urllib.error.URLError):
        http(f"{demo.url}/sim/api/state")


def test_the_demo_says_when_its_port_is_taken(tmp_path: Path) -> None:
    with closing(socket.socket()) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc = spawn(tmp_path, "demo", "--no-tour", "--port", str(port), "--data-dir", "d")
        _, err = proc.communicate("", timeout=20)
    assert proc.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in err
    assert "--port" in err


@pytest.mark.parametrize("option", [["--port", "8001"], ["--host", "0.0.0.0"], ["--auto"]])
def test_web_options_need_the_web(tmp_path: Path, option: list[str]) -> None:
    proc = spawn(tmp_path, "demo", "--no-web", *option)
    _, err = proc.communicate("", timeout=20)
    assert proc.returncode == 1
    assert "not with --no-web" in err
