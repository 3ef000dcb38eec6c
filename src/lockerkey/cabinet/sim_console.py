"""``lockerkey simulate``: a software cabinet driven by commands on standard input.

Standard output carries one line saying where the cabinet listens, then exactly one answer
line per input line: ``ok ...`` or ``error: <reason>``. A script (or a test) can therefore
write a command and wait for one line. Log lines (the pretend member's actions) go to
standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
from collections.abc import Awaitable, Callable

from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.sim_member import PretendMember
from lockerkey.cabinet.simulator import COUNTER_NAMES, CabinetController, Faults, Simulator
from lockerkey.cabinet.wire import MAX_SLOTS
from lockerkey.readers.stdin import lines

HELP = (
    "ok commands: take N | force N | insert N | open N [force] | close N (door 0 = the shared"
    " door) | fail N | repair N (lock outputs) | fault CODE [N] | reboot | silence SECONDS |"
    " unplug | replug [reset] | status | faults [drop=P] [corrupt=P] [dup=P] [delay=MS] |"
    " counters | misplace | returning | help | quit"
)


class Quit(Exception):
    """The quit command."""


def _slot(word: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise ValueError(f"{word!r} is not a slot number") from None


class Console:
    """Turns one command line into one answer line."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._commands: dict[str, Callable[[list[str]], Awaitable[str]]] = {
            "take": self._take,
            "force": self._force,
            "insert": self._insert,
            "open": self._open,
            "close": self._close,
            "fail": self._fail,
            "fault": self._fault,
            "repair": self._repair,
            "reboot": self._reboot,
            "silence": self._silence,
            "unplug": self._unplug,
            "replug": self._replug,
            "status": self._status,
            "faults": self._faults,
            "counters": self._counters,
            "misplace": self._misplace,
            "returning": self._returning,
            "help": self._help,
            "quit": self._quit,
        }

    async def answer(self, line: str) -> str:
        """The answer to one command line (raises Quit after quit)."""
        words = line.split()
        if not words:
            return "error: empty command; type help"
        command = self._commands.get(words[0].lower())
        if command is None:
            return f"error: unknown command {words[0]!r}; type help"
        try:
            return await command(words[1:])
        except ValueError as err:
            return f"error: {err}"

    @staticmethod
    def _one_slot(args: list[str], usage: str) -> int:
        if len(args) != 1:
            raise ValueError(f"usage: {usage}")
        return _slot(args[0])

    async def _take(self, args: list[str]) -> str:
        self.sim.take(self._one_slot(args, "take N"))
        return "ok"

    async def _force(self, args: list[str]) -> str:
        self.sim.take(self._one_slot(args, "force N"), force=True)
        return "ok"

    async def _insert(self, args: list[str]) -> str:
        self.sim.insert(self._one_slot(args, "insert N"))
        return "ok"

    async def _open(self, args: list[str]) -> str:
        force = args[1:] == ["force"]
        if len(args) not in (1, 2) or (len(args) == 2 and not force):
            raise ValueError("usage: open N [force]")
        self.sim.open_door(_slot(args[0]), force=force)
        return "ok"

    async def _close(self, args: list[str]) -> str:
        self.sim.close_door(self._one_slot(args, "close N"))
        return "ok"

    async def _fail(self, args: list[str]) -> str:
        self.sim.controller.fail_output(self._one_slot(args, "fail N"))
        return "ok"

    async def _fault(self, args: list[str]) -> str:
        if len(args) not in (1, 2):
            raise ValueError("usage: fault CODE [N]")
        self.sim.report_fault(args[0], _slot(args[1]) if len(args) == 2 else None)
        return "ok"

    async def _repair(self, args: list[str]) -> str:
        self.sim.controller.fail_output(self._one_slot(args, "repair N"), failed=False)
        return "ok"

    async def _reboot(self, args: list[str]) -> str:
        self._no_args(args, "reboot")
        return f"ok boot={self.sim.reboot()}"

    async def _silence(self, args: list[str]) -> str:
        try:
            (seconds,) = map(float, args)
        except ValueError:
            raise ValueError("usage: silence SECONDS") from None
        if not 0 <= seconds < float("inf"):
            raise ValueError("silence needs a number of seconds, 0 or more")
        self.sim.silence(seconds)
        return "ok"

    async def _unplug(self, args: list[str]) -> str:
        self._no_args(args, "unplug")
        await self.sim.unplug()
        return "ok"

    async def _replug(self, args: list[str]) -> str:
        if args not in ([], ["reset"]):
            raise ValueError("usage: replug [reset]")
        where = await self.sim.replug(reset=bool(args))
        return f"ok listening on {_where(self.sim, where)}"

    async def _status(self, args: list[str]) -> str:
        self._no_args(args, "status")
        ctl = self.sim.controller
        keys, doors, locks = ctl.status()
        return f"ok keys={keys} doors={doors} locks={locks} seq={ctl.seq} boot={ctl.boot}"

    async def _faults(self, args: list[str]) -> str:
        current = self.sim.faults
        values = {
            "drop": current.drop,
            "corrupt": current.corrupt,
            "dup": current.dup,
            "delay": float(current.delay_ms),
        }
        for arg in args:
            name, eq, text = arg.partition("=")
            if not eq or name not in values:
                raise ValueError("usage: faults [drop=P] [corrupt=P] [dup=P] [delay=MS]")
            try:
                values[name] = float(text)
            except ValueError:
                raise ValueError(f"{name}: {text!r} is not a number") from None
        if not values["delay"].is_integer():
            raise ValueError("delay is a whole number of milliseconds")
        self.sim.faults = Faults(
            values["drop"], values["corrupt"], values["dup"], int(values["delay"])
        )
        f = self.sim.faults
        return f"ok drop={f.drop} corrupt={f.corrupt} dup={f.dup} delay={f.delay_ms}"

    async def _counters(self, args: list[str]) -> str:
        self._no_args(args, "counters")
        counts = self.sim.counters
        return "ok " + " ".join(f"{name}={counts[name]}" for name in COUNTER_NAMES)

    async def _misplace(self, args: list[str]) -> str:
        self._no_args(args, "misplace")
        self._member().misplace_next = True
        return "ok the next automatic return goes into a wrong empty slot"

    async def _returning(self, args: list[str]) -> str:
        self._no_args(args, "returning")
        self._member().return_next = True
        return "ok at the next shared-door unlock the pretend member returns a key"

    def _member(self) -> PretendMember:
        if self.sim.member is None:
            raise ValueError("there is no pretend member: start the simulator with --auto SECONDS")
        return self.sim.member

    async def _help(self, args: list[str]) -> str:
        return HELP

    async def _quit(self, args: list[str]) -> str:
        raise Quit

    @staticmethod
    def _no_args(args: list[str], name: str) -> None:
        if args:
            raise ValueError(f"{name} takes no arguments")


def _where(sim: Simulator, where: str) -> str:
    return where if where.startswith("socket://") else f"{where} -> {sim.tty}"


def _say(line: str) -> None:
    with contextlib.suppress(BrokenPipeError):  # nobody reads the answers any more
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _check(args: argparse.Namespace) -> str | None:
    if not 1 <= args.slots <= MAX_SLOTS:
        return f"--slots must be 1..{MAX_SLOTS}"
    if args.link is not None and args.tcp is not None:
        return "use --link or --tcp, not both"
    if args.tcp is not None and not 0 <= args.tcp <= 65535:
        return "--tcp needs a port 0..65535 (0: any free port)"
    if args.auto is not None and not args.auto >= 0:
        return "--auto needs seconds, 0 or more"
    return None


def main(args: argparse.Namespace) -> int:
    """Run the simulator until quit, end of input, SIGTERM or SIGINT; 0 on a clean exit."""
    problem = _check(args)
    faults: Faults | None = None
    controller: CabinetController | None = None
    if problem is None:
        try:
            faults = Faults(args.drop, args.corrupt, args.dup, args.delay)
            controller = _controller(args)
        except (ValueError, OSError) as err:  # OSError: an unreadable board file
            problem = str(err)
    if problem is not None or faults is None or controller is None:
        sys.stderr.write(f"lockerkey simulate: {problem}\n")
        return 1
    logging.basicConfig(level=logging.INFO, format="simulate: %(message)s", stream=sys.stderr)
    sim = Simulator(controller, faults=faults, seed=args.seed, auto=args.auto)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(sim, args))
    return 0


def _controller(args: argparse.Namespace) -> CabinetController:
    """The pure-Python controller or, with --firmware, the firmware on simulated pins."""
    rng = random.Random(args.seed)  # noqa: S311 - boot ids need only differ, not be secret
    if not args.firmware and args.board is None:
        return Controller(args.slots, args.shared_door, door_sensors=args.doors, rng=rng)
    from lockerkey.fwsim.options import firmware_controller  # noqa: PLC0415 - needs firmware/

    return firmware_controller(args, rng)


async def _serve(sim: Simulator, args: argparse.Namespace) -> int:
    try:
        if args.tcp is not None:
            where = await sim.start_tcp(args.host, args.tcp)
        else:
            where = await sim.start_pty(link=args.link)
    except OSError as err:
        sys.stderr.write(f"lockerkey simulate: cannot listen: {err}\n")
        await sim.stop()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    console = Console(sim)

    async def read_commands() -> None:
        try:
            async for line in lines():
                try:
                    answer = await console.answer(line)
                except Quit:
                    _say("ok bye")
                    return
                _say(answer)
        finally:
            stop.set()

    _say(f"listening on {_where(sim, where)}")
    reader = asyncio.create_task(read_commands())
    try:
        await stop.wait()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await sim.stop()
    return 0
