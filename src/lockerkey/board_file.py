"""Checking a board file (firmware/BOARD.md) before it goes onto a controller.

The firmware checks the file again at start (lk/board.py); this side is stricter and says
every problem at once, so an installer fixes the file on the laptop, not at the cabinet.
"""

from __future__ import annotations

import re
from typing import Any

from lockerkey.cabinet import wire

_PIN = re.compile(r"!?(?:gpio:(\d+)|x(\d+)\.(\d+))")
# The ESP32 GPIOs a board may use: 6-11 are wired to the module's flash.
GPIOS = frozenset([*range(6), *range(12, 20), 21, 22, 23, 25, 26, 27, *range(32, 40)])
INPUT_ONLY = frozenset(range(34, 40))
STRAPPING = frozenset({0, 2, 5, 12, 15})  # read at reset: an output there can glitch at boot
SECTIONS = {  # the keys each object of a board file may have ("": the file itself)
    "": {"name", "kind", "slots", "link", "i2c", "expanders", "lock", "slot", "door", "buzzer"},
    "link": {"type", "id", "tx", "rx", "baud"},
    "i2c": {"id", "scl", "sda", "freq"},
    "lock": {"mode", "max_on_ms", "max_energised", "stagger_ms"},
    "door": {"lock", "sensor"},
    "slot": {"key", "lock", "door"},
}
SECTIONS[""].add("wdt_ms")
RANGES = {"slots": (1, wire.MAX_SLOTS), "wdt_ms": (1000, 60_000)}  # integers: (low, high)
RANGES |= {"link.id": (1, 2), "link.baud": (1200, 2_000_000), "link.tx": (0, 39)}
RANGES |= {"link.rx": (0, 39), "i2c.id": (0, 1), "i2c.freq": (10_000, 1_000_000)}
RANGES |= {"i2c.scl": (0, 39), "i2c.sda": (0, 39), "lock.max_on_ms": (1, 60_000)}
RANGES |= {"lock.max_energised": (1, wire.MAX_SLOTS), "lock.stagger_ms": (0, 10_000)}
CHOICES = {"kind": ("per_slot", "shared_door"), "link.type": ("usb", "uart")}
CHOICES["lock.mode"] = ("pulse", "hold")
NEEDED = {"name", "kind", "slots", "slot", "link.type", "lock.mode"}
# Pins outside the slot list: (where, is an output).
PINS = [("link.tx", True), ("link.rx", False), ("i2c.scl", True), ("i2c.sda", True)]
PINS += [("door.lock", True), ("door.sensor", False), ("buzzer", True)]


def _fields(where: str, value: object, problems: list[str]) -> dict[str, Any]:
    """An object's fields, noting a non-object and every unknown key."""
    if not isinstance(value, dict):
        problems.append(f"{where or 'board'}: expected a JSON object")
        return {}
    allowed = SECTIONS[where.split(maxsplit=1)[0] if where else ""]
    unknown = sorted(k for k in set(value) - allowed if not k.startswith("_"))  # _: a comment
    problems += [f"{where or 'board'}: unknown key {k!r}" for k in unknown]
    return value


def validate_board(data: object) -> list[str]:
    """Every problem in a parsed board file (firmware/BOARD.md); an empty list if it is good."""
    problems: list[str] = []
    board = _fields("", data, problems)
    if not isinstance(data, dict):
        return problems
    objects = ("link", "i2c", "lock", "door")
    flat = {key: value for key, value in board.items() if key not in objects}
    for name in objects:  # flattened: "lock.mode", ...
        if name in board:
            flat |= {f"{name}.{k}": v for k, v in _fields(name, board[name], problems).items()}
    kind, need = flat.get("kind"), set(NEEDED)
    need |= {"door.lock"} if kind == "shared_door" else set()
    need |= {"lock.max_on_ms"} if flat.get("lock.mode") == "pulse" else set()
    for name, whole in (("link", flat.get("link.type") == "uart"), ("i2c", "i2c" in board)):
        need |= {f"{name}.{key}" for key in SECTIONS[name]} if whole else set()
    problems += [f"{key}: required" for key in sorted(need - set(flat))]
    if flat.get("lock.mode") == "hold" and "lock.max_on_ms" in flat:
        problems.append("lock.max_on_ms: only for a pulse lock")
    if flat.get("link.type") == "usb" and {"link.id", "link.tx", "link.rx", "link.baud"} & set(
        flat
    ):
        problems.append("link: a usb link takes no other keys")
    for key, (low, high) in RANGES.items():
        if key in flat and not wire.is_int(flat[key], low, high):
            problems.append(f"{key}: expected an integer {low}..{high}")
    for key, choices in CHOICES.items():
        if key in flat and flat[key] not in choices:
            problems.append(f"{key}: expected one of {', '.join(choices)}")
    if "name" in flat and not (isinstance(flat["name"], str) and flat["name"].strip()):
        problems.append("name: expected a non-empty string")
    found = flat.get("expanders", [])
    expanders = found if isinstance(found, list) else []
    addresses = {a for a in expanders if wire.is_int(a, 32, 39)}  # MCP23017: 0x20..0x27
    if "expanders" in flat and (
        found is not expanders or not 0 < len(found) == len(addresses) <= 8
    ):
        problems.append("expanders: expected 1..8 different addresses 32..39 (0x20..0x27)")
    if "door" in board and kind != "shared_door":
        problems.append("door: only a shared_door cabinet has a shared door")
    pins: list[tuple[str, object, bool]] = []
    if flat.get("link.type") == "usb":  # UART0 (GPIO 1 and 3) is the USB serial console
        pins += [("link", "gpio:1", True), ("link", "gpio:3", False)]
    pins += [(where, flat[where], out) for where, out in PINS if where in flat]
    slots = flat.get("slot", [])
    if not isinstance(slots, list):
        problems.append("slot: expected a list of entries, slot 1 first")
        slots = []
    elif wire.is_int(flat.get("slots")) and len(slots) != flat["slots"]:
        problems.append(f"slot: {len(slots)} entries, but slots is {flat['slots']}")
    for index, entry in enumerate(slots, 1):
        fields = _fields(f"slot {index}", entry, problems)
        pins += [
            (f"slot {index} {k}", fields.get(k), k == "lock")
            for k in ("key", "lock", "door")
            if k == "key" or k in fields
        ]
        if kind == "per_slot" and "lock" not in fields:
            problems.append(f"slot {index}: a per_slot cabinet needs a lock on every slot")
        if kind == "shared_door" and {"lock", "door"} & set(fields):
            problems.append(f"slot {index}: a shared_door cabinet has only a key sensor per slot")
    problems += _pin_problems(pins, len(expanders), "i2c" in board)
    return list(dict.fromkeys(problems))


def _pin_problems(pins: list[tuple[str, object, bool]], expanders: int, i2c: bool) -> list[str]:
    problems: list[str] = []
    used: dict[str, str] = {}  # pin (without "!") -> where it is used first
    for where, value, output in pins:
        numbered = where.startswith(("i2c.", "link.")) and wire.is_int(value)  # GPIO numbers
        spec = f"gpio:{value}" if numbered else value
        match = _PIN.fullmatch(spec) if isinstance(spec, str) else None
        if match is None:
            problems.append(f'{where}: {value!r} is not a pin ("gpio:N" or "xK.P", maybe after !)')
            continue
        gpio, index, bit = match.groups()
        why = ""
        if gpio is not None:
            name, number = f"gpio:{int(gpio)}", int(gpio)
            if number not in GPIOS:
                why = "is not a usable ESP32 GPIO (6-11 belong to the flash)"
            elif output and number in INPUT_ONLY:
                why = "is input-only (34-39) and cannot drive an output"
            elif output and number in STRAPPING:
                why = "is a strapping pin (0, 2, 5, 12, 15): an output there may switch at boot"
        else:
            name, k, p = f"x{int(index)}.{int(bit)}", int(index), int(bit)
            if k >= expanders:
                problems.append(f"x{k}: there is no such expander ({expanders} listed)")
            if not i2c:
                problems.append("i2c: required when a pin is on an expander")
            if p > 15:
                why = "is not a pin: an expander has pins 0..15"
            elif p in (7, 15) and not output:
                why = "is GPA7/GPB7, output-only by the MCP23017 datasheet: not for an input"
        problems += [f"{where}: {name} {why}"] if why else []
        problems += [f"{where}: {name} is already used by {used[name]}"] if name in used else []
        used.setdefault(name, where)
    return problems
