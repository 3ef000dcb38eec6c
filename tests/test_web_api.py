"""The kiosk's HTTP/WebSocket API (a contract), through Starlette's TestClient, on a real
kiosk: a real ledger file and simulated controllers on ptys, in the TestClient's own loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from lockerkey.config_web import WebSettings
from lockerkey.web.context import WebContext
from lockerkey.web.screen import ScreenModel
from lockerkey.web.server import build_app
from tests.conftest import add_members
from tests.live import Site, open_site

ZONES: list[dict[str, object]] = [
    {"name": "low", "lockers": "1-4", "allow": {"gender": ["M"]}},
    {"name": "high", "lockers": "5-8", "allow": {"gender": ["F"]}},
]
LOCAL = ("127.0.0.1", 40000)
OUTSIDE = ("203.0.113.5", 40000)


class Later:
    """An ASGI app set once the kiosk exists (it must be built in the client's own loop)."""

    app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the web app has no lifespan work: just agree
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


@dataclasses.dataclass
class Rig:
    client: TestClient
    site: Site
    app: Any

    def ws_until(self, ws: Any, phase: str) -> dict[str, Any]:
        """Read pushed states until one is in ``phase``."""
        for _ in range(50):
            state: dict[str, Any] = ws.receive_json()
            if state["phase"] == phase:
                return state
        raise AssertionError(f"no {phase} state pushed")


def make_rig(tmp_path: Path, web: WebSettings | None = None) -> Iterator[Rig]:
    later = Later()
    with TestClient(later, client=LOCAL) as client:
        site: Site = client.portal.call(_open, tmp_path)
        settings = dataclasses.replace(
            site.settings,
            session=dataclasses.replace(site.settings.session, selection="choose"),
            web=web or WebSettings(),
        )
        site.kiosk.settings = settings
        site.kiosk.engine.policy = dataclasses.replace(site.engine.policy, selection="choose")
        screen = ScreenModel(lambda: site.kiosk.engine, "ko")
        site.kiosk.listeners.append(screen.on_step)
        later.app = build_app(WebContext(settings, site.kiosk, screen))
        try:
            yield Rig(client, site, later.app)
        finally:
            client.portal.call(site.stop)


async def _open(tmp_path: Path) -> Site:
    """A kiosk of 8 lockers in two zones; M1 is a man, M2 a woman."""
    site = await open_site(tmp_path, 8, zones=ZONES, members=())
    await site.kiosk.db(add_members, site.ledger, "M1", gender="M")
    await site.kiosk.db(add_members, site.ledger, "M2", gender="F")
    return site


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def test_state_when_idle_in_both_languages(rig: Rig) -> None:
    state = rig.client.get("/api/state").json()
    assert state["phase"] == "idle"
    assert state["message"] == "회원카드 또는 락카키를 스캔해 주세요"
    assert state["messages"]["en"] == "Scan your membership card or locker key"
    assert state["deadline"] is None and state["locker"] is None and state["online"] is True
    english = rig.client.get("/api/state?lang=en").json()
    assert english["message"] == "Scan your membership card or locker key"
    assert english["language"] == "en"


def test_page_is_served(rig: Rig) -> None:
    page = rig.client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert page.headers["cache-control"] == "no-store"


def test_a_rental_through_the_api(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["phase"] == "idle"
        answer = rig.client.post("/api/scan", json={"code": "M1"})
        assert answer.status_code == 202
        choose = rig.ws_until(ws, "choose_locker")
        assert choose["available"], choose
        assert choose["deadline"] is not None and 0 < choose["seconds_left"] <= 30
        numbers = [row["number"] for row in choose["lockers"]]
        assert numbers == [str(i) for i in range(1, 9)]
        offered = choose["available"][0]
        chosen = rig.client.post("/api/select", json={"locker": offered})
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["state"]["phase"] == "take_key"
        take = rig.ws_until(ws, "take_key")
        assert take["locker"] == offered
        assert offered in take["message"]
        slot = int(offered)
        rig.client.portal.call(lambda: _take(rig.site, slot))
        done = rig.ws_until(ws, "success")
        assert offered in done["message"] and done["level"] == "success"
        assert done["until"] is not None and done["deadline"] is None


async def _take(site: Site, slot: int) -> None:
    site.sims[0].controller.take(slot, 0)


def test_select_refused_with_a_reason(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        rig.client.post("/api/scan", json={"code": "M1"})
        choose = rig.ws_until(ws, "choose_locker")
        taken = [row["number"] for row in choose["lockers"] if not row["enabled"]]
        not_offered = taken[0] if taken else "999"
        answer = rig.client.post("/api/select", json={"locker": not_offered})
        assert answer.status_code == 409
        body = answer.json()
        assert body["ok"] is False and body["reason"]
        assert body["message"] and body["messages"]["en"]


def test_select_when_nothing_to_choose_is_refused(rig: Rig) -> None:
    answer = rig.client.post("/api/select", json={"locker": "1"})
    assert answer.status_code == 409
    assert rig.client.get("/api/state").json()["phase"] == "idle"


def test_cancel_with_nothing_to_cancel_is_still_200(rig: Rig) -> None:
    answer = rig.client.post("/api/cancel")
    assert answer.status_code == 200
    assert answer.json()["ok"] is True and answer.json()["cancelled"] is False
    assert answer.json()["state"]["phase"] == "idle"


def test_cancel_ends_the_step(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws") as ws:
        rig.client.post("/api/scan", json={"code": "M1"})
        rig.ws_until(ws, "choose_locker")
        answer = rig.client.post("/api/cancel")
        assert answer.status_code == 200
        assert answer.json()["ok"] is True and answer.json()["cancelled"] is True
        state = rig.client.get("/api/state").json()
        assert state["phase"] in ("failure", "idle")
        assert state["deadline"] is None


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"code": "tab\tcode"}, 422, "invalid_code"),
        ({"code": "x" * 65}, 422, "invalid_code"),
        ({"code": ""}, 422, "invalid_code"),
        ({"code": "카드"}, 422, "invalid_code"),
        ({"code": 12}, 400, "bad_request"),
        ({"barcode": "M1"}, 400, "bad_request"),
        (["M1"], 400, "bad_request"),
    ],
)
def test_unacceptable_scans(rig: Rig, body: object, status: int, reason: str) -> None:
    answer = rig.client.post("/api/scan", json=body)
    assert answer.status_code == status
    assert answer.json()["reason"] == reason
    assert rig.client.get("/api/state").json()["phase"] == "idle"


def test_a_body_that_is_not_json(rig: Rig) -> None:
    answer = rig.client.post("/api/scan", content=b"\xff\xfe{")
    assert answer.status_code == 400
    assert "not JSON" in answer.json()["message"]
    answer = rig.client.post("/api/select", content=b"locker=3")
    assert answer.status_code == 400


def test_the_websocket_pushes_every_change_in_order(rig: Rig) -> None:
    with rig.client.websocket_connect("/ws?lang=en") as ws:
        first = ws.receive_json()
        assert first["language"] == "en"
        rig.client.post("/api/scan", json={"code": "M1"})
        nxt = rig.ws_until(ws, "choose_locker")
        assert nxt["seq"] > first["seq"]
        assert nxt["message"] == "Choose a locker"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/state"),
        ("POST", "/api/scan"),
        ("POST", "/api/select"),
        ("POST", "/api/cancel"),
        ("GET", "/static/kiosk.html"),
    ],
)
def test_other_machines_are_refused(rig: Rig, method: str, path: str) -> None:
    outside = TestClient(rig.app, client=OUTSIDE)
    answer = outside.request(method, path, json={"code": "M1", "locker": "1"})
    assert answer.status_code == 403
    assert answer.json()["reason"] == "kiosk_only"
    assert rig.client.get("/api/state").json()["phase"] == "idle"  # nothing happened


def test_other_machines_get_no_websocket(rig: Rig) -> None:
    outside = TestClient(rig.app, client=OUTSIDE)
    with pytest.raises(WebSocketDisconnect) as closed, outside.websocket_connect("/ws"):
        pass
    assert closed.value.code == 1008


def test_other_machines_reach_the_admin_console_only(rig: Rig) -> None:
    outside = TestClient(rig.app, client=OUTSIDE)
    answer = outside.get("/admin/login", follow_redirects=False)
    assert answer.status_code != 403


def test_ipv4_mapped_loopback_is_the_kiosk(tmp_path: Path) -> None:
    for rig in make_rig(tmp_path):
        mapped = TestClient(rig.app, client=("::ffff:127.0.0.1", 1))
        assert mapped.get("/api/state").status_code == 200


def test_configured_kiosk_clients(tmp_path: Path) -> None:
    web = WebSettings(host="0.0.0.0", kiosk_clients=("192.0.2.7",))
    for rig in make_rig(tmp_path, web):
        assert TestClient(rig.app, client=("192.0.2.7", 1)).get("/api/state").status_code == 200
        assert TestClient(rig.app, client=LOCAL).get("/api/state").status_code == 403


def test_a_page_of_another_site_cannot_act_as_the_kiosk(rig: Rig) -> None:
    evil = {"origin": "http://evil.example"}
    answer = rig.client.post("/api/scan", json={"code": "M1"}, headers=evil)
    assert answer.status_code == 403
    body = answer.json()
    assert body["reason"] == "cross_origin" and body["messages"]["ko"]
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        rig.client.websocket_connect("/ws", headers=evil),
    ):
        pass
    assert closed.value.code == 1008
    assert rig.client.get("/api/state", headers=evil).status_code == 200  # reading is harmless
    own = {"origin": "http://testserver"}  # the kiosk page itself
    assert rig.client.post("/api/scan", json={"code": "M1"}, headers=own).status_code == 202


def test_refusals_say_why_in_both_languages(rig: Rig) -> None:
    outside = TestClient(rig.app, client=OUTSIDE)
    body = outside.get("/api/state").json()
    assert body["messages"]["ko"] == "키오스크 화면 전용입니다"
    assert body["messages"]["en"].startswith("This page is for the kiosk")
