"""The host driver and the engine against the simulator, over real ptys and TCP sockets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import re
import tty
from pathlib import Path

import pytest
import serial

from lockerkey.cabinet.base import CabinetError
from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.serial_link import LinkDown, LinkTiming, SerialCabinet
from lockerkey.cabinet.simulator import Faults, Simulator
from lockerkey.core.events import Event, Snapshot, Unlock
from lockerkey.core.state import Phase
from lockerkey.store import reports
from tests.live import Site, eventually, open_site


def rental_rows(site: Site) -> list[tuple[str, str, int]]:
    rows = site.ledger.conn.execute(
        "SELECT locker_number, status, rental_verified FROM rentals ORDER BY rental_id"
    )
    return [tuple(r) for r in rows]


def picture_matches(site: Site, index: int = 0) -> bool:
    """The driver's picture of keys, doors and locks equals the controller's status."""
    link, sim = site.link(index), site.sims[index]
    if link.picture is None:
        return False
    return snapshot_strings(site, index) == sim.controller.status()


async def begin_rental(site: Site, member: str = "M1", index: int = 0) -> tuple[str, int]:
    """A member scans; returns the locker offered and its slot, once that slot is unlocked."""
    site.kiosk.scan(member)
    await eventually(lambda: site.engine.phase is Phase.TAKE_KEY)
    locker = site.engine.session.locker
    slot = site.engine.layout.lockers[locker].slot
    controller = site.sims[index].controller
    await eventually(lambda: not controller.is_locked(slot), why=f"slot {slot} unlocked")
    return locker, slot


def snapshot_strings(site: Site, index: int = 0) -> tuple[str, str, str]:
    picture = site.link(index).picture
    assert picture is not None
    snap = picture.snapshot(index)
    return snap.keys, snap.doors, snap.locks


async def test_a_per_slot_rental_and_return(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 8)
    sim = site.sims[0]
    try:
        locker, slot = await begin_rental(site)
        sim.take(slot)
        await eventually(lambda: site.engine.phase is Phase.IDLE, why="rental confirmed")
        await eventually(lambda: sim.controller.is_locked(slot), why="relocked")
        assert rental_rows(site) == [(locker, "active", 1)]
        site.kiosk.scan(f"KEY-{locker}")
        await eventually(lambda: not sim.controller.is_locked(slot), why="unlocked for return")
        sim.insert(slot)
        await eventually(lambda: rental_rows(site) == [(locker, "returned", 1)])
        await eventually(lambda: sim.controller.is_locked(slot))
        await eventually(lambda: picture_matches(site))
        # The screen line follows the commit and the lock command: wait for it, not race it.
        await eventually(lambda: site.said(f"Locker {locker} returned"), why="return shown")
        assert site.said(f"Locker {locker} is yours")
        assert reports.invariant_problems(site.ledger) == []
    finally:
        await site.stop()


async def test_a_shared_door_rental_and_return(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 6, shared_door=True)
    sim = site.sims[0]
    try:
        site.kiosk.scan("M2")
        await eventually(lambda: site.engine.phase is Phase.TAKE_KEY)
        await eventually(lambda: not sim.controller.is_locked(0), why="shared door unlocked")
        sim.open_door(0)
        sim.take(4)  # the member picks any key: the first one taken decides the locker
        await eventually(lambda: rental_rows(site) == [("4", "active", 1)])
        await eventually(lambda: sim.controller.is_locked(0), why="door relocked at once")
        sim.close_door(0)
        site.kiosk.scan("KEY-4")
        await eventually(lambda: not sim.controller.is_locked(0))
        sim.open_door(0)
        sim.insert(4)
        await eventually(lambda: rental_rows(site) == [("4", "returned", 1)])
        sim.close_door(0)
        await eventually(lambda: sim.controller.is_locked(0))
        await eventually(lambda: picture_matches(site))
        assert reports.invariant_problems(site.ledger) == []
    finally:
        await site.stop()


async def test_over_tcp_like_a_serial_server(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4, tcp=True)
    try:
        assert site.link().port.startswith("socket://127.0.0.1:")
        _, slot = await begin_rental(site)
        site.sims[0].take(slot)
        await eventually(lambda: rental_rows(site) == [(str(slot), "active", 1)])
    finally:
        await site.stop()


async def test_link_loss_during_a_rental_and_the_key_taken_while_unplugged(
    tmp_path: Path,
) -> None:
    site = await open_site(tmp_path, 8)
    sim = site.sims[0]
    try:
        locker, slot = await begin_rental(site)
        await sim.unplug()
        await eventually(lambda: site.said("Lost contact with the key cabinet"), why="shown")
        assert site.engine.phase is Phase.OUT_OF_SERVICE
        assert rental_rows(site) == [(locker, "pending", 0)]  # nothing the sensors did not say
        sim.take(slot)  # the member still got the key out while the cable was loose
        await sim.replug()
        await eventually(lambda: rental_rows(site) == [(locker, "active", 1)], why="recovered")
        await eventually(lambda: site.engine.phase is Phase.IDLE)
        await eventually(lambda: sim.controller.is_locked(slot), why="locked on reconnect")
        assert site.engine.lockers[locker].holder is not None
        assert site.link().stats["link_lost"] == 1 and site.link().stats["connects"] >= 2
        assert reports.invariant_problems(site.ledger) == []
    finally:
        await site.stop()


async def test_a_controller_reset_while_unplugged_cancels_an_untaken_rental(
    tmp_path: Path,
) -> None:
    site = await open_site(tmp_path, 8)
    sim = site.sims[0]
    try:
        locker, _ = await begin_rental(site)
        await sim.unplug()
        await eventually(lambda: site.engine.phase is Phase.OUT_OF_SERVICE)
        await sim.replug(reset=True)
        await eventually(lambda: rental_rows(site) == [(locker, "cancelled", 0)])
        await eventually(lambda: site.engine.phase is Phase.IDLE)
        assert site.engine.lockers[locker].holder is None
    finally:
        await site.stop()


async def test_silence_is_a_link_loss_and_the_link_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = await open_site(tmp_path, 4)
    try:
        link = site.link()
        with caplog.at_level(logging.WARNING, logger="lockerkey.cabinet"):
            site.sims[0].silence(3.5)
            await eventually(lambda: link.stats["link_lost"] == 1, timeout=6)
            # Whichever comes first: the idle ping going unanswered, or 3 s without a frame.
            assert re.search(r"link lost: (no valid frame for 3 s|no reply to ping)", caplog.text)
            # The link counts the loss before the kiosk has handled it and shown it: wait.
            await eventually(lambda: site.said("Out of service"), why="out of service shown")
            await eventually(lambda: site.engine.phase is Phase.IDLE, timeout=10, why="back")
        assert link.online and link.stats["connects"] == 2
    finally:
        await site.stop()


async def test_a_reboot_is_noticed_and_relearned(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    sim = site.sims[0]
    try:
        link = site.link()
        first = link.boot
        new = sim.reboot()
        await eventually(lambda: link.boot == new and link.online, why="relearned the boot id")
        assert first != new and link.stats["reboots"] == 1 and link.stats["link_lost"] == 1
        await eventually(lambda: site.engine.phase is Phase.IDLE)
    finally:
        await site.stop()


async def test_stale_boot_is_never_repeated_blindly(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    sim = site.sims[0]
    try:
        link = site.link()
        sim.faults.drop = 1.0  # the boot event after the reset never arrives
        sim.reboot()
        sim.faults.drop = 0.0
        with pytest.raises(LinkDown, match="restarted"):
            await link.send(Unlock(0, 3, 5000))
        assert sim.controller.is_locked(3)  # refused as stale_boot, and not sent again
        await eventually(lambda: link.online and link.boot == sim.controller.boot)
        assert sim.controller.is_locked(3)
    finally:
        await site.stop()


async def test_a_lost_event_is_caught_by_the_heartbeat_and_resynced(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    sim = site.sims[0]
    try:
        link = site.link()
        sim.faults.drop = 1.0
        sim.take(2, force=True)
        await eventually(lambda: sim.counters["dropped"] >= 1, why="the key event was dropped")
        sim.faults.drop = 0.0
        await eventually(lambda: link.stats["resyncs"] >= 1, timeout=3, why="a resync")
        await eventually(lambda: picture_matches(site))
        assert snapshot_strings(site)[0] == "-1011"
        await eventually(lambda: site.engine.lockers["2"].key is False)
    finally:
        await site.stop()


async def test_retries_by_id_never_execute_a_command_twice(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4, faults=Faults(drop=0.3), seed=3)
    sim = site.sims[0]
    link = site.link()
    executed: list[int] = []
    sim.controller.on_execute = lambda rid, message: executed.append(rid)
    done = 0
    try:
        for _ in range(20):
            await eventually(lambda: link.online, why="online again after a failed request")
            try:
                await link.send(Unlock(0, 1, 1000))
            except CabinetError:
                continue  # the outcome is unknown: a link loss, never a blind repeat
            done += 1
        assert link.stats["retries"] > 0  # replies were lost and requests resent by id
        # However often a request was resent, the controller ran it once.
        assert len(executed) == len(set(executed)) and done >= 1
    finally:
        await site.stop()


BANNER = (
    b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    b"MicroPython v1.24.1 on 2024-11-29; Generic ESP32 module with ESP32\r\n"
    b'Type "help()" for more information.\r\n>>> '
)


async def test_garbage_on_the_line_is_dropped_counted_and_logged_sparingly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = await open_site(tmp_path, 4)
    sim = site.sims[0]
    link = site.link()
    try:
        with caplog.at_level(logging.WARNING, logger="lockerkey.cabinet"):
            sim.write_raw(BANNER + b"\n")
            noise = bytes(b for b in range(256) if b != ord("\n")) * 40
            sim.write_raw(noise + b"\n")  # 10 kB of noise in one line
            sim.write_raw(b"[1,2]*" + b"%04X" % 0 + b"\n")
            sim.faults.corrupt = 0.2
            for _ in range(10):  # replies and lock events, some of them mangled
                await eventually(lambda: link.online)
                with contextlib.suppress(CabinetError):  # 3 mangled replies in a row: link lost
                    await link.send(Unlock(0, 2, 200))
            sim.faults.corrupt = 0.0
            await eventually(lambda: picture_matches(site), why="picture right after the noise")
        dropped = link.decoder.dropped
        assert dropped["no_crc"] >= 4 and dropped["too_long"] >= 1
        assert dropped["bad_crc"] + dropped["no_crc"] >= 4 + sim.counters["corrupted"] // 2
        warnings = [r for r in caplog.records if "dropped a line" in r.getMessage()]
        assert len(warnings) == len({r.getMessage().split("(")[1] for r in warnings})  # 1/reason
        assert len(warnings) <= len(dropped)
        assert site.engine.phase is Phase.IDLE
    finally:
        await site.stop()


async def test_a_controller_with_other_slots_is_refused_with_a_clear_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = Simulator(Controller(6, False, rng=random.Random(2)))
    await sim.start_pty(tmp_path / "odd")
    link = SerialCabinet(0, "cab1", sim.url, 8, False)
    events: list[Event] = []
    task = asyncio.create_task(link.run(events.append))
    try:
        with caplog.at_level(logging.WARNING, logger="lockerkey.cabinet"):
            await eventually(lambda: "6 slots" in caplog.text, why="a message naming both counts")
        assert "8 lockers" in caplog.text and not link.online
        assert not any(isinstance(e, Snapshot) for e in events)
        assert sim.controller.unlocked == [] and link.stats["connects"] >= 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sim.stop()


async def test_a_missing_port_is_retried_until_it_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ttyCABINET"
    link = SerialCabinet(0, "cab1", str(path), 4, False)
    events: list[Event] = []
    sim = Simulator(Controller(4, False, rng=random.Random(4)))
    commands: list[str] = []
    sim.controller.on_execute = lambda _id, request: commands.append(str(request["cmd"]))
    with caplog.at_level(logging.WARNING, logger="lockerkey.cabinet"):
        task = asyncio.create_task(link.run(events.append))
        try:
            await eventually(lambda: "cannot connect" in caplog.text)
            assert f"{path}: no such port: is the cable plugged in" in caplog.text
            await sim.start_pty(path)  # plugged in later
            await eventually(lambda: link.online, why="connected once the port exists")
            assert isinstance(events[0], Snapshot) and events[0].keys == "-1111"
            assert commands[:3] == ["hello", "lock_all", "status"]  # before going online
            assert caplog.text.count("cannot connect") == 1  # the same reason is said once
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()


def test_request_ids_start_at_random() -> None:
    starts = {SerialCabinet(0, "a", "/dev/null", 4, False)._next_id for _ in range(5)}
    assert len(starts) == 5 and all(1 <= n < 2**31 for n in starts)


async def test_two_controllers_each_with_its_own_lockers(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4, cabinets=2)
    first, second = site.sims
    try:
        await first.unplug()  # only the second cabinet (lockers 5-8) can serve now
        await eventually(lambda: site.engine.online == {1})
        assert site.engine.phase is Phase.IDLE
        locker, slot = await begin_rental(site, index=1)
        assert locker in {"5", "6", "7", "8"} and slot == int(locker) - 4  # 5 is slot 1 there
        second.take(slot)
        await eventually(lambda: rental_rows(site) == [(locker, "active", 1)])
        assert first.controller.status()[0] == "-1111"  # nothing moved in the other cabinet
        await first.replug()
        await eventually(lambda: site.engine.online == {0, 1})
        await eventually(lambda: picture_matches(site, 0) and picture_matches(site, 1))
    finally:
        await site.stop()


async def test_duplicated_lines_are_applied_once_without_a_resync(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    sim, link = site.sims[0], site.link()
    try:
        sim.faults.dup = 1.0  # every line twice
        await link.send(Unlock(0, 3, 60000))
        sim.take(3)
        await eventually(lambda: link.stats["repeated_events"] >= 2, why="both events seen twice")
        await eventually(lambda: picture_matches(site))
        assert link.stats["resyncs"] == 0 and link.stats["stray_replies"] >= 1
        assert snapshot_strings(site) == ("-1101", "-----", "-1101")
    finally:
        await site.stop()


async def test_an_idle_host_pings_every_two_seconds(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    sim = site.sims[0]
    pings: list[float] = []
    loop = asyncio.get_running_loop()
    try:
        sim.controller.on_execute = lambda _id, req: (
            pings.append(loop.time()) if req["cmd"] == "ping" else None
        )
        await eventually(lambda: len(pings) >= 3, timeout=8, why="three pings")
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        # The spec: one at least every 2 s when there is nothing else to send; the host waits
        # the full 2 s of quiet, so no sooner. 0.5 s allows for a loaded machine's timers.
        assert all(1.9 <= gap <= 2.5 for gap in gaps), gaps
    finally:
        await site.stop()


async def test_a_controller_fault_reaches_the_audit_log(tmp_path: Path) -> None:
    site = await open_site(tmp_path, 4)
    try:
        site.sims[0].report_fault("expander", 3)
        query = "SELECT locker_number, details FROM events WHERE kind = 'controller_fault'"
        await eventually(lambda: site.ledger.conn.execute(query).fetchone() is not None)
        locker, details = site.ledger.conn.execute(query).fetchone()
        assert locker == "3" and '"code": "expander"' in details
        assert site.link().stats["faults"] == 1 and site.engine.phase is Phase.IDLE
    finally:
        await site.stop()


async def test_reconnect_attempts_back_off_doubling_to_a_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The protocol's 0.5 s doubling to 5 s, scaled down tenfold to keep the test short.
    timing = LinkTiming(backoff_min=0.05, backoff_max=0.5)
    link = SerialCabinet(0, "cab1", str(tmp_path / "nothing"), 4, False, timing=timing)
    with caplog.at_level(logging.DEBUG, logger="lockerkey.cabinet"):
        task = asyncio.create_task(link.run(lambda event: None))
        try:
            await eventually(lambda: caplog.text.count("connecting to") >= 7, timeout=5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    times = [r.created for r in caplog.records if "connecting to" in r.getMessage()]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, expected in zip(gaps, [0.05, 0.1, 0.2, 0.4, 0.5, 0.5], strict=False):
        assert expected * 0.9 <= gap <= expected + 0.2, gaps


async def test_a_port_another_program_holds_is_reported_as_busy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = Simulator(Controller(4, False, rng=random.Random(6)))
    port = await sim.start_pty(tmp_path / "busy")
    other = serial.Serial(port, exclusive=True)  # say, a second kiosk started by mistake
    link = SerialCabinet(0, "cab1", port, 4, False)
    with caplog.at_level(logging.WARNING, logger="lockerkey.cabinet"):
        task = asyncio.create_task(link.run(lambda event: None))
        try:
            await eventually(lambda: "in use by another program" in caplog.text)
            other.close()
            await eventually(lambda: link.online, why="connected once the port is free")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sim.stop()


async def test_a_board_that_does_not_speak_the_protocol_is_named_as_such(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A MicroPython REPL (no lockerkey firmware) echoes what it gets behind a prompt."""
    master, slave = os.openpty()
    tty.setraw(master)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()

    def echo() -> None:
        with contextlib.suppress(BlockingIOError):
            data = os.read(master, 4096)
            os.write(master, b">>> " + data.replace(b"\n", b"\r\n"))

    loop.add_reader(master, echo)
    link = SerialCabinet(0, "cab1", os.ttyname(slave), 4, False)
    with caplog.at_level(logging.WARNING, logger="lockerkey.cabinet"):
        task = asyncio.create_task(link.run(lambda event: None))
        try:
            await eventually(lambda: "is the lockerkey firmware running" in caplog.text)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            loop.remove_reader(master)
            os.close(master)
            os.close(slave)
    assert "no reply to hello after 3 sends; 3 unreadable lines came instead" in caplog.text
    assert not link.online
