"""The real firmware (``firmware/lk/``), imported under CPython behind typed adapters.

The firmware is MicroPython code outside ``src/`` and untyped; nothing here imports it
statically. ``load_modules`` imports a fresh copy of the ``lk`` package (new module state, as a
reset gives the chip) without leaving it in ``sys.modules``; ``running`` puts that copy back in
place, with the fake ``machine``, for the length of one call into the firmware, so a lazy
``import`` inside the firmware finds the same modules.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lockerkey
from lockerkey.fwsim.machine import FakeMachine, installed
from lockerkey.fwsim.pins import PinRef

PACKAGE = "lk"
MODULES = ("lk", "lk.ticks", "lk.board", "lk.hw", "lk.cabinet", "lk.core")


class BoardFileError(ValueError):
    """A board file that cannot be used; the message says which file and why."""


def firmware_dir() -> Path:
    """The repository's ``firmware/`` folder (the one that holds ``lk/``)."""
    where = Path(lockerkey.__file__).resolve().parents[2] / "firmware"
    if not (where / PACKAGE / "core.py").is_file():
        raise FileNotFoundError(
            f"the firmware is not at {where / PACKAGE}: --firmware runs the code of a source"
            " checkout (firmware/lk/core.py next to src/), not of an installed package"
        )
    return where


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


@contextlib.contextmanager
def _swapped(modules: dict[str, types.ModuleType]) -> Iterator[None]:
    """sys.modules holds exactly ``modules`` for the ``lk`` package while inside."""
    saved = {name: mod for name, mod in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name in [n for n in sys.modules if _ours(n)]:
            mod = sys.modules.pop(name)
            modules.setdefault(name, mod)  # a module the firmware imported lazily: keep it
        sys.modules.update(saved)


def load_modules(machine: FakeMachine) -> dict[str, types.ModuleType]:
    """A fresh import of the firmware's modules (what a reset does to module state)."""
    root = str(firmware_dir())
    if root not in sys.path:
        sys.path.append(root)
    modules: dict[str, types.ModuleType] = {}
    with installed(machine), _swapped(modules):
        for name in MODULES:
            importlib.import_module(name)
    return modules


@contextlib.contextmanager
def running(machine: FakeMachine, modules: dict[str, types.ModuleType]) -> Iterator[None]:
    """The firmware's world for one call: its modules and the fake machine in sys.modules."""
    with installed(machine), _swapped(modules):
        yield


@dataclass(frozen=True)
class BoardSpec:
    """A board file as the firmware checked it (``lk.board.parse``), in typed form."""

    data: dict[str, Any]  # the board file as read (the firmware parses it again at power-up)
    name: str
    shared: bool
    slots: int
    keys: tuple[PinRef | None, ...]  # index = slot (0 unused)
    doors: tuple[PinRef | None, ...]  # index = slot (0: the shared door's sensor)
    locks: tuple[PinRef | None, ...]  # index = slot (0: the shared door's lock)
    buzzer: PinRef | None
    i2c_bus: int
    expanders: tuple[int, ...]
    pulse: bool
    max_on_ms: int
    max_energised: int
    stagger_ms: int
    wdt_ms: int

    @property
    def lockable(self) -> tuple[int, ...]:
        """The slots that have a lock."""
        return tuple(s for s, ref in enumerate(self.locks) if ref is not None)


_PIN = re.compile(r"^(!?)(?:gpio:(\d+)|x(\d+)\.(\d+))$")


def _pin(name: Any) -> PinRef | None:
    """A pin name of a board file the firmware accepted (its own form of it is its business)."""
    if name is None:
        return None
    match = _PIN.match(name)
    if match is None:
        raise BoardFileError(f"the firmware accepted a pin name the harness cannot read: {name!r}")
    low, gpio, expander, number = match.groups()
    if gpio is not None:
        return PinRef(None, int(gpio), bool(low))
    return PinRef(int(expander), int(number), bool(low))


def parse_board(data: Any) -> BoardSpec:
    """Check a board dict with the firmware's own ``lk.board.parse`` (BoardFileError)."""
    fake = FakeMachine()
    modules = load_modules(fake)
    board_module: Any = modules["lk.board"]
    with running(fake, modules):
        try:
            board = board_module.parse(data)
        except board_module.BoardError as err:
            raise BoardFileError(str(err)) from None
    i2c = board.i2c or {}
    entries: list[dict[str, Any]] = [{}, *data["slot"]]  # index = slot; 0: the shared door
    door: dict[str, Any] = data.get("door") or {}
    return BoardSpec(
        data=data,
        name=board.name,
        shared=bool(board.shared),
        slots=int(board.slots),
        keys=tuple(_pin(e.get("key")) for e in entries),
        doors=(_pin(door.get("sensor")), *(_pin(e.get("door")) for e in entries[1:])),
        locks=(_pin(door.get("lock")), *(_pin(e.get("lock")) for e in entries[1:])),
        buzzer=_pin(data.get("buzzer")),
        i2c_bus=int(i2c.get("id", 0)),
        expanders=tuple(int(a) for a in board.expanders),
        pulse=bool(board.pulse),
        max_on_ms=int(board.max_on_ms),
        max_energised=int(board.max_energised),
        stagger_ms=int(board.stagger_ms),
        wdt_ms=int(board.wdt_ms),
    )


def read_board(path: str | Path) -> BoardSpec:
    """Read and check a board file (BoardFileError naming the file on any problem)."""
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BoardFileError(f"board file {where}: cannot read it ({err})") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise BoardFileError(f"board file {where}: not valid JSON ({err})") from None
    try:
        return parse_board(data)
    except BoardFileError as err:
        why = str(err).removeprefix("board.json: ")  # the firmware names the file on the chip
        raise BoardFileError(f"board file {where}: {why}") from None
