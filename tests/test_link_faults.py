"""The fault campaign: 10,000 sensor events over a bad line, a reboot and an unplug/replug.

The simulator drops, corrupts and duplicates 2% of its lines each. Through all of it:
- the host never sends an unlock the engine did not order (and never one twice);
- after every disruption, the host's picture of keys and locks (and the engine's picture of
  keys) equals the simulator's within 3 s;
- no rental is recorded that the simulator's physical state contradicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from pathlib import Path

import pytest

from lockerkey.cabinet.simulator import Faults
from lockerkey.core.events import Step, Unlock
from lockerkey.core.state import Phase
from lockerkey.store import reports
from tests.live import Site, eventually, open_site

SLOTS = 64
RENTAL = range(1, 17)  # lockers members rent through the kiosk
CHURN = range(17, SLOTS + 1)  # slots where hands move keys about (tamper, as far as the host knows)
EVENTS = int(os.environ.get("LOCKERKEY_CAMPAIGN_EVENTS", "10000"))
CONVERGE = 3.0  # seconds the host may take to see the cabinet as it is after a disruption
PACE = 0.06  # s between moves of the same slot: longer than the 50 ms debounce, like a hand


class Campaign:
    """Moves keys, rents and returns, disrupts the link, and checks the pictures converge."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.sim = site.sims[0]
        self.link = site.link()
        self.ordered: Counter[int] = Counter()  # unlocks the engine ordered, per slot
        self.executed: Counter[int] = Counter()  # unlock requests the controller ran, per slot
        self.executed_ids: list[int] = []
        self.taken: set[str] = set()  # rental lockers whose key we physically took
        self.moves = 0
        self.convergence: list[float] = []
        site.kiosk.listeners.append(self._on_step)
        self.sim.controller.on_execute = self._on_execute

    def _on_step(self, step: Step) -> None:
        for command in step.commands:
            if isinstance(command, Unlock):
                self.ordered[command.slot] += 1

    def _on_execute(self, rid: int, request: dict[str, object]) -> None:
        if request.get("cmd") == "unlock" and isinstance(request.get("slot"), int):
            self.executed[request["slot"]] += 1  # type: ignore[index]
            self.executed_ids.append(rid)

    def agrees(self) -> bool:
        """The host's and the engine's pictures equal the controller's debounced state."""
        picture = self.link.picture
        if not self.link.online or picture is None:
            return False
        keys, doors, locks = self.sim.controller.status()
        snap = picture.snapshot(0)
        if (snap.keys, snap.doors, snap.locks) != (keys, doors, locks):
            return False
        engine = self.site.engine
        return all(
            engine.lockers[str(slot)].key is (keys[slot] == "1") for slot in range(1, SLOTS + 1)
        )

    async def converge(self, what: str) -> None:
        """Wait (at most CONVERGE s) until everything agrees; record how long it took."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        await eventually(self.agrees, timeout=CONVERGE, why=f"pictures agree after {what}")
        self.convergence.append(loop.time() - start)

    async def churn_round(self) -> None:
        """Every churn slot changes once: a key forced out, or put back."""
        ctl = self.sim.controller
        for slot in CHURN:
            if ctl.key_present(slot):
                self.sim.take(slot, force=True)
            else:
                self.sim.insert(slot)
            self.moves += 1
        await asyncio.sleep(PACE)  # a hand's pace, not a wait for the host

    async def served(self) -> None:
        """Wait until the kiosk has handled everything queued so far."""
        await asyncio.wait_for(self.site.kiosk.queue.join(), 10)

    async def rent(self, member: str) -> None:
        """A member scans and, if offered a locker, takes its key."""
        engine, ctl = self.site.engine, self.sim.controller
        self.site.kiosk.scan(member)
        await self.served()
        session = engine.session
        if engine.phase is not Phase.TAKE_KEY or session is None or session.locker is None:
            return
        locker = session.locker
        slot = int(locker)
        await eventually(lambda: not ctl.is_locked(slot) or engine.session is not session)
        with contextlib.suppress(ValueError):  # relocked meanwhile: the member got nothing
            self.sim.take(slot)
            self.taken.add(locker)
        await eventually(lambda: engine.session is not session, why="rental step over")

    async def give_back(self) -> None:
        """A member returns one key they hold."""
        engine, ctl = self.site.engine, self.sim.controller
        held = [
            n
            for n in map(str, RENTAL)
            if engine.lockers[n].holder is not None and not ctl.key_present(int(n))
        ]
        if not held:
            return
        locker = held[0]
        self.site.kiosk.scan(f"KEY-{locker}")
        await self.served()
        session = engine.session
        if engine.phase is not Phase.RETURN_KEY or session is None:
            return
        slot = int(locker)
        await eventually(lambda: not ctl.is_locked(slot) or engine.session is not session)
        if not ctl.key_present(slot):
            self.sim.insert(slot)  # a key can always be pushed back in
        await eventually(lambda: engine.session is not session, why="return step over")


async def test_fault_campaign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = await open_site(
        tmp_path,
        SLOTS,
        faults=Faults(drop=0.02, corrupt=0.02, dup=0.02),
        seed=int(os.environ.get("LOCKERKEY_CAMPAIGN_SEED", "20261126")),
        members=tuple(f"M{i}" for i in range(1, 41)),
        # Nobody may rent the churn lockers: their keys only move by hand.
        zones=[{"name": "churn", "lockers": f"{CHURN[0]}-{CHURN[-1]}", "allow": {"x": ["-"]}}],
    )
    run = Campaign(site)
    sim, link = site.sims[0], site.link()
    rounds = 0
    member = 0
    rebooted = unplugged = False
    try:
        while run.moves < EVENTS:
            await run.churn_round()
            rounds += 1
            if rounds % 4 == 0:
                # A member comes when the hands are still: a key moved by them during a return
                # would rightly count as the member's key put into the wrong slot.
                await run.converge(f"{run.moves} moves")
                member += 1
                if member % 3 == 0:
                    await run.give_back()
                else:
                    await run.rent(f"M{member % 40 + 1}")
            if not rebooted and run.moves >= EVENTS // 3:
                rebooted = True
                sim.reboot()
                await run.converge("a controller reboot")
            if not unplugged and run.moves >= 2 * EVENTS // 3:
                unplugged = True
                await sim.unplug()
                for _ in range(10):  # keys keep moving while the cable is out (1.5 s or so)
                    await run.churn_round()
                await eventually(lambda: site.engine.phase is Phase.OUT_OF_SERVICE)
                await sim.replug()
                await run.converge("an unplug and replug")
        await run.converge("the end of the campaign")

        # Never an unlock the engine did not order; never one request run twice.
        assert len(run.executed_ids) == len(set(run.executed_ids))
        extra = {s: n for s, n in run.executed.items() if n > run.ordered[s]}
        assert extra == {}, f"unlocks the engine never ordered: {extra}"
        assert not any(run.executed[s] for s in CHURN)

        # No rental the cabinet contradicts: every key out in the rental lockers is held by its
        # renter, every active rental's key is out, and only keys we took were ever rented.
        rows = site.ledger.conn.execute(
            "SELECT locker_number, status FROM rentals WHERE rental_verified = 1"
        ).fetchall()
        active = {locker for locker, status in rows if status == "active"}
        out = {str(s) for s in RENTAL if not sim.controller.key_present(s)}
        detail = site.ledger.conn.execute(
            "SELECT locker_number, status, rental_verified, error_code, error_details FROM rentals"
        ).fetchall()
        assert active == out, [tuple(r) for r in detail]
        assert {locker for locker, _ in rows} <= run.taken
        assert reports.invariant_problems(site.ledger) == []
        assert rebooted and unplugged and len(rows) >= EVENTS // 1000

        sent, stats = sim.counters, link.stats
        figures = (
            f"fault campaign: {run.moves} key moves; simulator sent {sent['lines_sent']} lines,"
            f" dropped {sent['dropped']}, corrupted {sent['corrupted']},"
            f" duplicated {sent['duplicated']}; host dropped {dict(link.decoder.dropped)},"
            f" resyncs {stats['resyncs']}, retries {stats['retries']},"
            f" reconnects {stats['connects'] - 1}, link losses {stats['link_lost']};"
            f" rentals {len(rows)}; max divergence {max(run.convergence):.2f} s"
            f" over {len(run.convergence)} checks"
        )
        with capsys.disabled():  # the campaign's figures, shown in every test run
            print("\n" + figures)
        assert link.stats["resyncs"] > 0 and sim.counters["dropped"] > 0
    finally:
        await site.stop()
