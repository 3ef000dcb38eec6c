"""The whole kiosk as a process: `lockerkey run` with four simulated cabinets (1,000 lockers)
on ptys, a serial card reader on a pty, the kiosk page's WebSocket, and a copy of a ledger.

For each rental (one member after another, at the pace the reader's scan gate allows):
- scan -> unlock: the last byte of the member code written on the reader's pty, to the
  `unlock` frame read on the cabinet's pty;
- scan -> screen: to the WebSocket message that puts the page on "take your key";
- key removed -> committed: the `key` event frame written on the cabinet's pty, to the
  rental seen `active` by another connection polling the ledger file (WAL: a reader sees a
  commit once it is durable, synchronous=FULL).
Returns (the soak) are timed the same way. Also: launch -> ready, with the ledger as the
rentals left it, and the daemon's RSS at idle, every 1,000 scans, and at its peak.

    .venv/bin/python -m bench.process LEDGER [--rentals 1000] [--soak 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import websockets

from bench.rig import SLOTS, Cabinets, CommitWatch, Daemon, Reader, make_site

# The reader's scan gate takes at most 10 codes a second (more is a flood): stay under it.
SCAN_GAP_S = 0.105
WAIT_S = 5.0
IDLE_SETTLE_S = 2.0  # after ready, before the idle RSS is read: start-up garbage is collected
RESTARTS = 5


def member(k: int) -> str:
    """The k-th member to rent (the ledgers have 100,000; a member returns before renting again)."""
    return f"B{k % 50_000:07d}"


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50, p99 and max in ms, and the number of samples."""
    ms = sorted(s / 1e6 for s in samples_ns)
    p99 = ms[max(0, int(len(ms) * 0.99) - 1)]
    return {"p50": statistics.median(ms), "p99": p99, "max": ms[-1], "n": len(ms)}


class Screens:
    """The kiosk page's WebSocket: each message's arrival time and phase."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()

    async def follow(self, port: int) -> None:
        """Read messages until the connection closes."""
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
            async for message in ws:
                self.queue.put_nowait((time.perf_counter_ns(), json.loads(message)["phase"]))

    async def until(self, phase: str) -> int:
        """The arrival time of the next message in ``phase``."""
        while True:
            at, seen = await self.queue.get()
            if seen == phase:
                return at


class Bench:
    """The parts around one daemon, and the samples taken through them."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.loop = asyncio.get_running_loop()
        self.cabinets = Cabinets(site)
        self.reader = Reader(site)
        self.watch = CommitWatch(site / "data" / "locker.db", self.loop)
        self.screens = Screens()
        self.samples: dict[str, list[int]] = {}
        self.scans = 0
        self.prefix = ""  # "soak_" once the measured rentals are done
        self._next_scan = 0.0
        self._committed: asyncio.Future[int] | None = None

    def sample(self, name: str, ns: int) -> None:
        """Keep one sample."""
        self.samples.setdefault(self.prefix + name, []).append(ns)

    async def scan(self, code: str, commit_sql: str, member: str) -> tuple[int, int, int, int]:
        """Scan ``code`` at the gate's pace: (cabinet, slot, scan ns, unlock ns)."""
        await asyncio.sleep(max(0.0, self._next_scan - time.perf_counter()))
        self._next_scan = time.perf_counter() + SCAN_GAP_S
        self._committed = self.watch.arm(commit_sql, member)
        while not self.screens.queue.empty():
            self.screens.queue.get_nowait()
        scanned = self.reader.scan(code)
        self.scans += 1
        cab, slot, unlocked = await asyncio.wait_for(self.cabinets.unlocks.get(), WAIT_S)
        return cab, slot, scanned, unlocked

    async def key_moved(self, cab: int, slot: int, present: bool) -> int:
        """Take or put back a key; ns from its `key` event frame to the durable commit."""
        sent: asyncio.Future[int] = self.loop.create_future()

        def on_sent(at: int) -> None:
            self.watch.start()
            sent.set_result(at)

        self.cabinets.controllers[cab].on_key_sent = on_sent
        if present:
            self.cabinets.sims[cab].insert(slot)
        else:
            self.cabinets.sims[cab].take(slot)
        try:
            sensed = await asyncio.wait_for(sent, WAIT_S)
        finally:
            self.cabinets.controllers[cab].on_key_sent = None
        assert self._committed is not None
        return await asyncio.wait_for(self._committed, WAIT_S) - sensed

    async def rent(self, member: str) -> int:
        """One rental; the locker number."""
        cab, slot, scanned, unlocked = await self.scan(member, CommitWatch.ACTIVE, member)
        shown = await asyncio.wait_for(self.screens.until("take_key"), WAIT_S)
        self.sample("scan_unlock", unlocked - scanned)
        self.sample("scan_screen", shown - scanned)
        self.sample("key_commit", await self.key_moved(cab, slot, present=False))
        return cab * SLOTS + slot

    async def give_back(self, locker: int, member: str) -> None:
        """One return of ``locker``'s key by ``member``."""
        code = f"KEY-{locker}"
        cab, slot, scanned, unlocked = await self.scan(code, CommitWatch.RETURNED, member)
        self.sample("return_scan_unlock", unlocked - scanned)
        self.sample("return_key_commit", await self.key_moved(cab, slot, present=True))


async def run(site: Path, rentals: int, soak: int = 0, restarts: int = RESTARTS) -> dict[str, Any]:
    """In ``site``: ``rentals`` rentals, then ``soak`` more scans of rentals and returns (all
    lockers rented, then all returned, and again), then restarts; the figures."""
    bench = Bench(site)
    await bench.cabinets.start()
    rss: list[float] = []  # MB, every 1,000 scans
    try:
        daemon = Daemon(site, bench.loop)
        follower: asyncio.Task[None] | None = None
        try:
            first_ready_s, port = await daemon.ready()
            follower = asyncio.create_task(bench.screens.follow(port))
            await asyncio.sleep(IDLE_SETTLE_S)
            idle = daemon.memory_kb()
            out: dict[int, str] = {}  # locker -> member holding its key
            capacity = len(bench.cabinets.controllers) * SLOTS

            def note_rss() -> None:
                if bench.scans % 1000 == 0:
                    rss.append(daemon.memory_kb()["VmRSS"] / 1024)

            for k in range(rentals):
                out[await bench.rent(member(k))] = member(k)
                note_rss()
            bench.prefix, k, end = "soak_", rentals, rentals + soak
            while bench.scans < end:
                while out and bench.scans < end:
                    await bench.give_back(*out.popitem())
                    note_rss()
                while len(out) < capacity and bench.scans < end:
                    out[await bench.rent(member(k))] = member(k)
                    k += 1
                    note_rss()
            after = daemon.memory_kb()
        finally:
            status = daemon.stop()
            if follower is not None:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)
        if status != 0:
            raise RuntimeError(f"the daemon exited {status}:\n" + "".join(list(daemon.lines)[-30:]))
        ready = [first_ready_s, *[await restart(bench) for _ in range(restarts)]]
    finally:
        await bench.cabinets.stop()
        bench.reader.close()
        bench.watch.close()
    return {
        "rentals": rentals,
        "scans": bench.scans,
        **{name: percentiles(samples) for name, samples in bench.samples.items()},
        "ready_s": statistics.median(ready),
        "ready_runs_s": ready,
        "rss_idle_mb": idle["VmRSS"] / 1024,
        "rss_after_mb": after["VmRSS"] / 1024,
        "rss_peak_mb": after["VmHWM"] / 1024,
        "rss_every_1000_scans_mb": rss,
    }


async def restart(bench: Bench) -> float:
    """Launch -> ready once more, with the cabinets as they are; seconds."""
    daemon = Daemon(bench.site, bench.loop)
    try:
        return (await daemon.ready())[0]
    finally:
        daemon.stop()


def measure(
    ledger: Path, site: Path, rentals: int, soak: int = 0, restarts: int = RESTARTS
) -> dict[str, Any]:
    """The figures on a fresh copy of ``ledger`` in ``site``."""
    make_site(site, ledger)
    return asyncio.run(run(site, rentals, soak, restarts))


def main() -> None:
    """The command line: one ledger's figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--rentals", type=int, default=1000)
    parser.add_argument("--soak", type=int, default=0, help="scans of rentals and returns after")
    parser.add_argument("--site", type=Path, default=Path("bench/work/site"))
    args = parser.parse_args()
    print(json.dumps(measure(args.ledger, args.site, args.rentals, args.soak), indent=2))


if __name__ == "__main__":
    main()
