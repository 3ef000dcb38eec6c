"""The demo's simulator panel at /sim: the simulated cabinets drawn live, and a hand to act.

A click takes a key out or puts it back, opens or closes the shared door: each goes to the
in-process ``Simulator``, whose controller then sends the protocol's exact lines to the kiosk
over its pty, as a real cabinet would. The panel never touches the engine; its one way into
the kiosk is the scan box, which is a reader like any other (``kiosk.intake("sim-panel")``).
Demo only: ``lockerkey demo`` passes these routes to ``attach``; the access guard keeps them
for the kiosk's own machine (loopback) like every path outside /admin.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lockerkey.cabinet.simulator import Simulator
from lockerkey.config import CabinetSettings
from lockerkey.core import rules
from lockerkey.core.model import CabinetKind, MemberStatus
from lockerkey.core.roster import MemberRow
from lockerkey.web.static import static_path

READER = "sim-panel"  # the reader name of scans sent from the panel's scan box
NO_STORE = {"cache-control": "no-store"}
SHARED_DOOR = 0  # the protocol's slot number of a shared door

Texts = dict[str, str]  # one text per language: {"ko": ..., "en": ...}


class PanelError(Exception):
    """A hand cannot do that (no key to take, a locked door): said in both languages."""

    def __init__(self, ko: str, en: str, status: int = 409) -> None:
        super().__init__(en)
        self.texts: Texts = {"ko": ko, "en": en}
        self.status = status


@dataclass(frozen=True)
class SampleCard:
    """A card the panel offers to scan: a sample member, with what is special about it."""

    code: str
    name: str
    note: Texts


def sample_cards(members: Sequence[MemberRow], today: date | None = None) -> list[SampleCard]:
    """The panel's card list: each member with gender, category and what is wrong, if any."""
    today = today or datetime.now(UTC).date()
    cards = []
    for row in members:
        ko = [{"M": "남", "F": "여"}.get(row.gender or "", row.gender or "")]
        en = [row.gender or ""]
        if row.category == "staff":
            ko.append("직원 카드")
            en.append("staff card")
        if row.status is MemberStatus.SUSPENDED:
            ko.append("정지")
            en.append("suspended")
        elif row.status is MemberStatus.EXPIRED or (row.expiry_date and row.expiry_date < today):
            ko.append("만료")
            en.append("expired")
        note = {"ko": " · ".join(t for t in ko if t), "en": " · ".join(t for t in en if t)}
        cards.append(SampleCard(row.barcode, row.name, note))
    return cards


@dataclass(frozen=True)
class PanelCabinet:
    """One simulated cabinet and the lockers its slots hold."""

    settings: CabinetSettings
    sim: Simulator

    @property
    def shared(self) -> bool:
        """Whether one door (slot 0) locks every key of this cabinet."""
        return self.settings.kind is CabinetKind.SHARED_DOOR


class SimPanel:
    """What the panel acts on: the demo's simulators, its pretend member, and a scan intake."""

    def __init__(
        self,
        cabinets: Sequence[PanelCabinet],
        scan: Callable[[str], None],
        cards: Sequence[SampleCard] = (),
        auto_delay: float = 0.8,
    ) -> None:
        self.cabinets = list(cabinets)
        self.scan = scan
        self.cards = list(cards)
        self.auto_delay = auto_delay

    # ---- the pretend member --------------------------------------------------------------

    @property
    def auto(self) -> bool:
        """Whether the pretend member takes or returns keys after each unlock."""
        return any(c.sim.member is not None and c.sim.auto is not None for c in self.cabinets)

    def set_auto(self, on: bool) -> None:
        """Turn the pretend member on or off; the simulator asks it after each unlock."""
        for cab in self.cabinets:
            cab.sim.auto = self.auto_delay if on and cab.sim.member is not None else None

    # ---- what is drawn -------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Every cabinet's slots (key, lock), its shared door, and the panel's options."""
        return {
            "auto": self.auto,
            "cabinets": [self._cabinet(i, cab) for i, cab in enumerate(self.cabinets)],
            "cards": [{"code": c.code, "name": c.name, "note": c.note} for c in self.cards],
        }

    def _cabinet(self, index: int, cab: PanelCabinet) -> dict[str, Any]:
        ctl = cab.sim.controller
        door = None
        if cab.shared:
            door = {
                "open": ctl.has_door(SHARED_DOOR) and ctl.door_open(SHARED_DOOR),
                "locked": ctl.is_locked(SHARED_DOOR),
            }
        slots = []
        for slot, locker in enumerate(cab.settings.lockers, start=1):
            locked = ctl.is_locked(SHARED_DOOR if cab.shared else slot)
            slots.append(
                {
                    "slot": slot,
                    "locker": locker,
                    "tag": cab.settings.key_code(locker),
                    "key": ctl.key_present(slot),
                    "locked": locked,
                    "reachable": not locked or bool(door and door["open"]),
                }
            )
        return {
            "index": index,
            "name": cab.settings.name,
            "kind": str(cab.settings.kind),
            "door": door,
            "slots": slots,
        }

    # ---- what a hand does ----------------------------------------------------------------

    def take(self, cabinet: int, slot: int, force: bool = False) -> None:
        """Take the key out of a slot: through an open lock, or forced out of a locked one."""
        cab = self._cab(cabinet)
        self._slot(cab, slot)
        ctl = cab.sim.controller
        if not ctl.key_present(slot):
            raise PanelError(f"{slot}번 칸에 키가 없습니다", f"slot {slot} holds no key")
        lock = SHARED_DOOR if cab.shared else slot
        door_open = cab.shared and ctl.has_door(lock) and ctl.door_open(lock)
        if not force and ctl.is_locked(lock) and not door_open:
            raise PanelError(
                "잠겨 있습니다. 강제로 빼려면 Shift+클릭 또는 길게 누르세요",
                "Locked. Shift+click or long-press to force the key out",
            )
        cab.sim.take(slot, force=force)

    def insert(self, cabinet: int, slot: int) -> None:
        """Put a key into an empty slot (a key can always be pushed in, locked or not)."""
        cab = self._cab(cabinet)
        self._slot(cab, slot)
        if cab.sim.controller.key_present(slot):
            raise PanelError(
                f"{slot}번 칸에는 이미 키가 있습니다", f"slot {slot} already holds a key"
            )
        cab.sim.insert(slot)

    def door(self, cabinet: int, open_it: bool, force: bool = False) -> None:
        """Open or close a cabinet's shared door; a locked door opens only when forced."""
        cab = self._cab(cabinet)
        ctl = cab.sim.controller
        if not cab.shared or not ctl.has_door(SHARED_DOOR):
            raise PanelError("이 캐비닛에는 공용 문이 없습니다", "this cabinet has no shared door")
        if ctl.door_open(SHARED_DOOR) == open_it:
            raise PanelError(
                "문이 이미 열려 있습니다" if open_it else "문이 이미 닫혀 있습니다",
                "the door is already open" if open_it else "the door is already closed",
            )
        if open_it and not force and ctl.is_locked(SHARED_DOOR):
            raise PanelError(
                "문이 잠겨 있습니다. 강제로 열려면 Shift+클릭 또는 길게 누르세요",
                "The door is locked. Shift+click or long-press to force it open",
            )
        if open_it:
            cab.sim.open_door(SHARED_DOOR, force=force)
        else:
            cab.sim.close_door(SHARED_DOOR)

    def _cab(self, cabinet: int) -> PanelCabinet:
        if not 0 <= cabinet < len(self.cabinets):
            raise PanelError(f"{cabinet}번 캐비닛은 없습니다", f"no cabinet {cabinet}", 404)
        return self.cabinets[cabinet]

    @staticmethod
    def _slot(cab: PanelCabinet, slot: int) -> None:
        if not 1 <= slot <= len(cab.settings.lockers):
            raise PanelError(f"{slot}번 칸은 없습니다", f"no slot {slot}", 404)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data: Any = json.loads(await request.body() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PanelError("JSON이 아닙니다", f"the body is not JSON: {err}", 400) from err
    if not isinstance(data, dict):
        raise PanelError("JSON 객체가 필요합니다", "expected a JSON object", 400)
    return data


def _field(data: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = data.get(name, default)
    # bool is an int in Python: a slot of `true` must not pass as slot 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PanelError(
            f'"{name}" 값이 올바르지 않습니다', f'"{name}" must be a {kind.__name__}', 400
        )
    return value


def routes(panel: SimPanel) -> list[BaseRoute]:
    """The panel's page and its JSON API, for ``attach(daemon, extra_routes=...)``."""

    def ok() -> Response:
        return JSONResponse({"ok": True, "state": panel.state()}, headers=NO_STORE)

    def refused(err: PanelError) -> Response:
        body = {"ok": False, "message": err.texts}
        return JSONResponse(body, status_code=err.status, headers=NO_STORE)

    async def page(request: Request) -> Response:
        return FileResponse(static_path("sim.html"), headers=NO_STORE)

    async def state(request: Request) -> Response:
        return JSONResponse(panel.state(), headers=NO_STORE)

    def posted(
        act: Callable[[dict[str, Any]], None],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST endpoint acting on its JSON body: the new state, or why it was refused."""

        async def endpoint(request: Request) -> Response:
            try:
                act(await _json(request))
            except PanelError as err:
                return refused(err)
            return ok()

        return endpoint

    def take(data: dict[str, Any]) -> None:
        panel.take(
            _field(data, "cabinet", int, 0),
            _field(data, "slot", int),
            _field(data, "force", bool, False),
        )

    def insert(data: dict[str, Any]) -> None:
        panel.insert(_field(data, "cabinet", int, 0), _field(data, "slot", int))

    def door(data: dict[str, Any]) -> None:
        panel.door(
            _field(data, "cabinet", int, 0),
            _field(data, "open", bool),
            _field(data, "force", bool, False),
        )

    def auto(data: dict[str, Any]) -> None:
        panel.set_auto(_field(data, "on", bool))

    async def scan(request: Request) -> Response:
        try:
            code = _field(await _json(request), "code", str).strip()
        except PanelError as err:
            return refused(err)
        if not rules.valid_code(code):
            return refused(
                PanelError(
                    "읽을 수 없는 코드입니다 (영문·숫자 1-64자)",
                    "not a code a scanner could read (1-64 printable ASCII characters)",
                    422,
                )
            )
        panel.scan(code)
        return JSONResponse({"ok": True, "queued": code}, status_code=202, headers=NO_STORE)

    return [
        Route("/sim", page),
        Route("/sim/api/state", state),
        Route("/sim/api/take", posted(take), methods=["POST"]),
        Route("/sim/api/insert", posted(insert), methods=["POST"]),
        Route("/sim/api/door", posted(door), methods=["POST"]),
        Route("/sim/api/scan", scan, methods=["POST"]),
        Route("/sim/api/auto", posted(auto), methods=["POST"]),
    ]
