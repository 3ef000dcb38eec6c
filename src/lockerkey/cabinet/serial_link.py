"""The host side of the cabinet link (protocol v1) over a serial port or a ``socket://`` URL.

One ``SerialCabinet`` per controller. It connects (DTR/RTS held low so an ESP32 is not reset),
says ``hello``, locks everything, learns the full ``status`` and only then reports the cabinet
to the engine; from then on it turns validated events into engine events and engine commands
into requests. At most one request is on the wire at a time, so a retried ``unlock`` can never
overtake a later ``lock``. Anything it cannot trust (a seq gap, a heartbeat that disagrees, a
restarted controller, silence, a vanished port) ends in a fresh ``status`` or a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from lockerkey.cabinet import wire
from lockerkey.cabinet.base import CabinetError, CommandRefused, Emit
from lockerkey.cabinet.line import DropLog, LineProtocol, describe, open_port
from lockerkey.cabinet.tracker import Outcome, Picture, Tracker
from lockerkey.core.events import (
    Beep,
    Command,
    ControllerFault,
    LinkLost,
    Lock,
    LockAll,
    Unlock,
)

log = logging.getLogger("lockerkey.cabinet")


@dataclass(frozen=True)
class LinkTiming:
    """The protocol's timings (section 2 and 4), in seconds."""

    retry: float = 0.25
    sends: int = 3
    ping_idle: float = 2.0
    silence: float = 3.0
    backoff_min: float = 0.5
    backoff_max: float = 5.0


class LinkDown(CabinetError):
    """The link to a controller is lost; the reason says why."""


@dataclass
class _Request:
    id: int
    cmd: str
    frame: bytes
    reply: asyncio.Future[wire.Reply]


class SerialCabinet:
    """A link to one controller; implements ``CabinetLink``."""

    def __init__(
        self,
        index: int,
        name: str,
        port: str,
        slots: int,
        shared_door: bool,
        baudrate: int = 115200,
        timing: LinkTiming | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.port = port
        self.slots = slots
        self.shared_door = shared_door
        self.baudrate = baudrate
        self.timing = timing or LinkTiming()
        self.stats: Counter[str] = Counter()
        self.decoder = wire.Decoder()
        self.tracker = Tracker(index)
        self.online = False
        self._next_id = random.SystemRandom().randint(1, wire.MAX_ID)
        self._emit: Emit = lambda event: None
        self._outbox: asyncio.Queue[_Request] = asyncio.Queue()
        self._pending: _Request | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._dead: asyncio.Future[None] | None = None
        self._last_rx = 0.0
        self._last_tx = 0.0
        self._resync: asyncio.Task[None] | None = None
        self._drops = DropLog(log, name)

    @property
    def picture(self) -> Picture | None:
        """The host's picture of the cabinet (None until a status has been learned)."""
        return self.tracker.picture

    @property
    def boot(self) -> str | None:
        """The controller's boot id as last learned."""
        return self.tracker.boot

    # ---- the engine's side -------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        """Connect, report and reconnect forever (link losses are reported, never raised)."""
        self._emit = emit
        backoff = self.timing.backoff_min
        last_reason = ""
        while True:
            reason = "driver error"
            lost = False
            try:
                await self._session()
            except (LinkDown, OSError) as err:
                reason = str(err) or type(err).__name__
            except asyncio.CancelledError:
                self._close()  # the kiosk is stopping: nobody needs telling
                raise
            finally:
                # Also on a crash in the driver: the engine must never trust a dead link.
                if self._close():
                    lost = True
                    self.stats["link_lost"] += 1
                    log.warning("%s: link lost: %s", self.name, reason)
                    emit(LinkLost(self.index, reason))
            if lost:
                backoff = self.timing.backoff_min
            elif reason != last_reason:  # the same failure again and again is said once
                log.warning("%s: cannot connect: %s", self.name, reason)
            last_reason = reason
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.timing.backoff_max)

    async def send(self, command: Command) -> None:
        """Carry out an engine command; raises CabinetError if the controller did not do it."""
        if not self.online or self.boot is None:
            raise CabinetError(f"{self.name} is not connected")
        match command:
            case Unlock(slot=slot, ms=ms):
                await self._checked("unlock", slot=slot, ms=ms, boot=self.boot)
            case Lock(slot=slot):
                await self._checked("lock", slot=slot, boot=self.boot)
            case LockAll():
                await self._checked("lock_all", boot=self.boot)
            case Beep(pattern=pattern):
                await self._checked("beep", pattern=pattern)

    def refresh(self) -> None:
        """Learn the status again and report it as a Snapshot (no-op while offline)."""
        if not self.online:
            return  # the next connect reports a Snapshot anyway
        self.tracker.hold()
        if self._resync is None or self._resync.done():
            self._resync = asyncio.create_task(self._resync_now())

    async def _checked(self, cmd: str, **args: Any) -> None:
        reply = await self._call(cmd, **args)
        if reply.ok:
            return
        if reply.err == "stale_boot":
            # The controller restarted: re-learn everything and let the engine decide again.
            self._fail("controller restarted (stale_boot)")
            raise LinkDown(f"{self.name}: {cmd} not done: the controller restarted")
        where = f" slot {args['slot']}" if "slot" in args else ""
        raise CommandRefused(f"{self.name}: {cmd}{where} refused: {reply.err}", reply.err or "")

    # ---- one connection ------------------------------------------------------------------------

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        self._dead = loop.create_future()
        log.debug("%s: connecting to %s", self.name, self.port)
        protocol = LineProtocol(self._on_line, self._on_bad_line, self._on_closed)
        try:
            self._transport = await open_port(self.port, self.baudrate, protocol)
        except OSError as err:
            raise LinkDown(describe(err, self.port)) from err
        self._last_rx = self._last_tx = loop.time()
        self.stats["connects"] += 1
        tasks = [
            asyncio.create_task(self._writer()),
            asyncio.create_task(self._watchdog()),
        ]
        try:
            hello = await self._hello()
            self.tracker.boot = hello.boot
            await self._locked_all()
            await self._learn_status()
            log.info("%s: online on %s (fw %s, boot %s)", self.name, self.port, hello.fw, self.boot)
            await self._dead
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _hello(self) -> wire.Hello:
        unreadable = self.decoder.dropped.total()
        try:
            reply = await self._call("hello")
        except LinkDown as err:
            unreadable = self.decoder.dropped.total() - unreadable
            if not unreadable:
                raise
            # Something answers, but not in the protocol: a REPL, other firmware, wrong speed.
            raise LinkDown(
                f"{err}; {unreadable} unreadable lines came instead: is the lockerkey firmware"
                f" running on the controller, at {self.baudrate} baud?"
            ) from err
        try:
            if not reply.ok:
                raise wire.Malformed(f"hello refused: {reply.err}")
            hello = wire.parse_hello(reply.result)
        except wire.Malformed as err:
            raise LinkDown(f"bad hello reply: {err}") from err
        if hello.proto != wire.PROTO:
            raise LinkDown(f"controller speaks protocol {hello.proto}, not {wire.PROTO}")
        if (hello.slots, hello.main) != (self.slots, self.shared_door):
            kind = "a shared door" if hello.main else "per-slot locks"
            raise LinkDown(
                f"controller has {hello.slots} slots and {kind}; the [[cabinet]] settings"
                f" say {self.slots} lockers, {'shared' if self.shared_door else 'per-slot'}"
            )
        return hello

    async def _locked_all(self) -> None:
        reply = await self._call("lock_all", boot=self.boot)
        if not reply.ok:
            # hw_fault still locks the rest (spec section 5); anything else is a restart.
            if reply.err != "hw_fault":
                raise LinkDown(f"lock_all refused: {reply.err}")
            log.error("%s: lock_all reports a faulty output", self.name)

    async def _learn_status(self) -> None:
        """Ask for ``status`` and make it the truth; events held meanwhile are then applied."""
        self.tracker.hold()
        self.stats["status"] += 1
        reply = await self._call("status")
        try:
            if not reply.ok:
                raise wire.Malformed(f"status refused: {reply.err}")
            status = wire.parse_status(reply.result, self.slots, self.shared_door)
        except wire.Malformed as err:
            raise LinkDown(f"bad status reply: {err}") from err
        outcome = self.tracker.learn(status)
        if outcome.restart:
            raise LinkDown(outcome.restart)
        self.online = True  # before the engine hears of it, so its commands can be sent
        self._act(outcome)

    def _close(self) -> bool:
        was_online = self.online
        self.online = False
        self.tracker.forget()
        if self._resync is not None:
            self._resync.cancel()
            self._resync = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._pending is not None:
            self._pending.reply.cancel()
        self._pending = None
        while not self._outbox.empty():
            self._outbox.get_nowait().reply.cancel()
        return was_online

    def _fail(self, reason: str) -> None:
        if self._dead is not None and not self._dead.done():
            self._dead.set_exception(LinkDown(reason))

    # ---- requests --------------------------------------------------------------------------

    def _request(self, cmd: str, args: dict[str, Any]) -> _Request:
        rid = self._next_id
        self._next_id = rid + 1 if rid < wire.MAX_ID else 1
        future: asyncio.Future[wire.Reply] = asyncio.get_running_loop().create_future()
        return _Request(rid, cmd, wire.request(rid, cmd, **args), future)

    async def _call(self, cmd: str, **args: Any) -> wire.Reply:
        """Queue a request and wait for its reply (LinkDown if the link fails first)."""
        request = self._request(cmd, args)
        self._outbox.put_nowait(request)
        assert self._dead is not None
        either: list[asyncio.Future[Any]] = [request.reply, self._dead]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if request.reply.done() and not request.reply.cancelled():
            return request.reply.result()
        request.reply.cancel()
        raise LinkDown(self._reason() or f"link lost before {cmd} was answered")

    def _reason(self) -> str | None:
        """Why the current connection failed, if it has."""
        dead = self._dead
        if dead is None or not dead.done() or dead.cancelled():
            return None
        err = dead.exception()
        return str(err) if err else None

    async def _writer(self) -> None:
        """Sends queued requests one at a time, retrying by id; pings when idle."""
        loop = asyncio.get_running_loop()
        while True:
            idle = self.timing.ping_idle - (loop.time() - self._last_tx)
            try:
                async with asyncio.timeout(max(idle, 0.0)):
                    request = await self._outbox.get()
            except TimeoutError:
                # Keeps the controller's fail-secure timer from firing while all is quiet.
                request = self._request("ping", {})
            if request.reply.done():
                continue  # its caller has given up
            self._pending = request
            for attempt in range(self.timing.sends):
                if attempt:
                    self.stats["retries"] += 1
                self._write(request.frame)
                await asyncio.wait([request.reply], timeout=self.timing.retry)
                if request.reply.done():
                    break
            self._pending = None
            if not request.reply.done():
                reason = f"no reply to {request.cmd} after {self.timing.sends} sends"
                request.reply.cancel()
                self._fail(reason)
                return

    def _write(self, frame: bytes) -> None:
        if self._transport is not None:
            self._last_tx = asyncio.get_running_loop().time()
            self.stats["sent"] += 1
            self._transport.write(frame)  # type: ignore[attr-defined]

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            quiet = loop.time() - self._last_rx
            if quiet >= self.timing.silence:
                self._fail(f"no valid frame for {self.timing.silence:g} s")
                return
            await asyncio.sleep(self.timing.silence - quiet)

    # ---- what comes in ---------------------------------------------------------------------

    def _on_closed(self, exc: Exception | None) -> None:
        self._fail(f"port closed ({exc})" if exc else "port closed")

    def _on_bad_line(self, reason: str) -> None:
        self.decoder.drop(reason)
        self._drops.drop(reason)

    def _on_line(self, line: bytes) -> None:
        self.decoder.last_drop = None
        message = self.decoder.decode(line)
        if message is None:
            if self.decoder.last_drop is not None:  # not an empty (resync) line
                self._drops.drop(self.decoder.last_drop)
            return
        try:
            parsed = wire.parse_message(message, self.slots)
        except wire.Malformed as err:
            self.decoder.drop("malformed")
            self._drops.drop("malformed", str(err))
            return
        self._last_rx = asyncio.get_running_loop().time()
        self.stats["received"] += 1
        if isinstance(parsed, wire.Reply):
            pending = self._pending
            if pending is not None and parsed.id == pending.id and not pending.reply.done():
                pending.reply.set_result(parsed)
            else:
                self.stats["stray_replies"] += 1
            return
        self._on_event(parsed)

    def _on_event(self, event: wire.WireEvent) -> None:
        self._act(self.tracker.on_event(event))

    def _act(self, outcome: Outcome) -> None:
        """Report what the tracker made of a message; resync or fail the link if it says so."""
        for event in outcome.events:
            self._emit(event)
        for misfit in outcome.misfits:
            self.decoder.drop("malformed")
            self._drops.drop("malformed", misfit)
        for fault in outcome.faults:
            self.stats["faults"] += 1
            self._emit(ControllerFault(self.index, fault.code, fault.slot))
            log.error(
                "%s: controller reports a fault: %s (slot %s)", self.name, fault.code, fault.slot
            )
        self.stats["repeated_events"] += outcome.repeated
        if outcome.restart:
            self.stats["reboots"] += 1
            self._fail(outcome.restart)
        elif outcome.resync and self.online:
            self.stats["resyncs"] += 1
            log.info("%s: resyncing from status: %s", self.name, outcome.resync)
            if self._resync is None or self._resync.done():
                self._resync = asyncio.create_task(self._resync_now())

    async def _resync_now(self) -> None:
        """Learn the status until nothing more is held (a gap may show up in held events)."""
        try:
            while self.tracker.wants_status:
                await self._learn_status()
        except LinkDown as err:
            self._fail(str(err))
        except CabinetError:
            pass  # the link is already failing
