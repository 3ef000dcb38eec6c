"""The cabinet link's wire format (protocol v1): ``JSON*CRC`` lines and their messages.

Shared by the host driver, the simulator and the tests. A line either decodes to a JSON
object whose CRC checks, or it is dropped and counted; a message from a controller either
validates field by field (types, ranges, status strings of the right length and alphabet) or
it is dropped and counted too. Nothing dropped is ever acted on, and no input of any kind
makes the decoder raise.
"""

from __future__ import annotations

import binascii
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_LINE = 1024  # bytes, not counting the line end
_HEX = frozenset("0123456789ABCDEF")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): b"123456789" -> 0x29B1."""
    return binascii.crc_hqx(data, 0xFFFF)


def encode(message: dict[str, Any]) -> bytes:
    """One frame, line end included."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    return body + b"*%04X\n" % crc16(body)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _check_number(text: str) -> Any:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def _check_int(text: str) -> int:
    value = int(text)
    if abs(value) > 2**53:
        raise ValueError("integer out of range")
    return value


class Decoder:
    """Turns received lines into messages; counts what it drops and why."""

    def __init__(self) -> None:
        self.dropped: Counter[str] = Counter()
        self.last_drop: str | None = None  # why the latest dropped line was dropped

    def decode(self, line: bytes) -> dict[str, Any] | None:
        """The message in one line (without or with its line end), or None if it is dropped."""
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if not line:
            return None  # an empty line is a resync, not an error
        if len(line) > MAX_LINE:
            self.drop("too_long")
            return None
        body, star, crc = line.rpartition(b"*")
        digits = crc.decode("latin-1")
        if not star or len(crc) != 4 or not set(digits.upper()) <= _HEX:
            self.drop("no_crc")
            return None
        # Lower-case hex digits are a bad CRC by the protocol's rule, whatever their value.
        if digits != digits.upper() or int(crc, 16) != crc16(body):
            self.drop("bad_crc")
            return None
        try:
            message = json.loads(
                body.decode("utf-8"),
                parse_constant=_reject_constant,
                parse_float=_check_number,
                parse_int=_check_int,
            )
        except (UnicodeDecodeError, ValueError, RecursionError):
            self.drop("bad_json")
            return None
        if not isinstance(message, dict):
            self.drop("not_object")
            return None
        return message

    def drop(self, reason: str) -> None:
        """Count a dropped line (also one dropped before it reaches ``decode``)."""
        self.dropped[reason] += 1
        self.last_drop = reason


# ---- messages from a controller (host side) ---------------------------------------------------

PROTO = 1
MAX_ID = 2**31 - 1
MAX_SLOTS = 255
LOCK_COMMANDS = frozenset({"unlock", "lock", "lock_all"})
ERRORS = frozenset({"bad_slot", "bad_arg", "unknown_cmd", "stale_boot", "hw_fault"})
BEEPS = frozenset({"ok", "error", "alert"})
# Optional fields the host accepts besides the spec's; anything else unknown is malformed.
OPTIONAL_HELLO = frozenset({"heap"})
_BOOT_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Hello:
    """Who a controller is: the ``hello`` result and the ``boot`` event share these fields."""

    fw: str
    proto: int
    slots: int
    boot: str
    main: bool
    heap: int | None = None


@dataclass(frozen=True)
class Status:
    """A controller's full state (``status`` result): strings of N+1 chars, char 0 the door."""

    keys: str
    doors: str
    locks: str
    seq: int
    boot: str


@dataclass(frozen=True)
class Reply:
    """A reply to request ``id``; ``result`` holds the fields besides id/ok/err, unvalidated."""

    id: int
    ok: bool
    err: str | None
    result: dict[str, Any]


@dataclass(frozen=True)
class BootEvent:
    """The controller (re)started; seq is 0."""

    seq: int
    hello: Hello


@dataclass(frozen=True)
class KeyEvent:
    """A key sensor changed."""

    seq: int
    slot: int
    present: bool


@dataclass(frozen=True)
class DoorEvent:
    """A door sensor changed (slot 0: the shared door)."""

    seq: int
    slot: int
    open: bool


@dataclass(frozen=True)
class LockEvent:
    """A lock changed state (slot 0: the shared door)."""

    seq: int
    slot: int
    locked: bool


@dataclass(frozen=True)
class FaultEvent:
    """Hardware trouble reported by the controller."""

    seq: int
    code: str
    slot: int | None


@dataclass(frozen=True)
class Heartbeat:
    """Sent every second; ``seq`` is the last event's seq, ``up`` the uptime in ms."""

    seq: int
    up: int


WireEvent = BootEvent | KeyEvent | DoorEvent | LockEvent | FaultEvent | Heartbeat


class Malformed(ValueError):
    """A message that framed correctly but whose fields do not validate."""


def is_int(value: object, low: int = -(2**53), high: int = 2**53) -> TypeGuard[int]:
    """An integer within [low, high]; JSON true/false decode to bool, which never counts."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _need(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Malformed(f"{name}: expected {kind.__name__}")
    return value


def _only(message: dict[str, Any], allowed: frozenset[str] | set[str]) -> None:
    extra = set(message) - allowed
    if extra:
        raise Malformed("unknown field " + ",".join(sorted(extra)))


def _seq(message: dict[str, Any]) -> int:
    seq = _need(message, "seq", int)
    if not is_int(seq, 0, 2**53):
        raise Malformed("seq out of range")
    return int(seq)


def _slot(message: dict[str, Any], slots: int) -> int:
    slot = _need(message, "slot", int)
    if not is_int(slot, 0, slots):
        raise Malformed(f"slot {slot} out of range")
    return int(slot)


def _boot_id(message: dict[str, Any]) -> str:
    boot = _need(message, "boot", str)
    if len(boot) != 8 or not set(boot) <= _BOOT_HEX:
        raise Malformed("boot: expected 8 lower-case hex characters")
    return str(boot)


def parse_hello(fields: dict[str, Any]) -> Hello:
    """The identity fields of a ``hello`` result or ``boot`` event (others already removed)."""
    _only(fields, {"fw", "proto", "slots", "boot", "main"} | OPTIONAL_HELLO)
    fw = _need(fields, "fw", str)
    proto = _need(fields, "proto", int)
    slots = _need(fields, "slots", int)
    main = _need(fields, "main", bool)
    if not is_int(slots, 1, MAX_SLOTS):
        raise Malformed(f"slots {slots} out of range")
    heap = fields.get("heap")
    if heap is not None and not is_int(heap, 0, 2**53):
        raise Malformed("heap: expected a non-negative integer")
    return Hello(fw, proto, slots, _boot_id(fields), main, heap)


def _status_string(fields: dict[str, Any], name: str, size: int, alphabet: str) -> str:
    text = _need(fields, name, str)
    if len(text) != size or not set(text) <= set(alphabet):
        raise Malformed(f"{name}: expected {size} characters of {alphabet!r}")
    return str(text)


def parse_status(fields: dict[str, Any], slots: int, main: bool) -> Status:
    """A ``status`` result for a controller of ``slots`` slots, shared door or not."""
    _only(fields, {"keys", "doors", "locks", "seq", "boot"})
    size = slots + 1
    keys = _status_string(fields, "keys", size, "-01")
    doors = _status_string(fields, "doors", size, "-01")
    locks = _status_string(fields, "locks", size, "-01")
    if keys[0] != "-" or "-" in keys[1:]:
        raise Malformed("keys: char 0 must be '-' and every slot '0' or '1'")
    has_lock = [locks[i] != "-" for i in range(size)]
    expected = [main] + [not main] * slots
    if has_lock != expected:
        raise Malformed("locks: wrong slots have a lock for this kind of cabinet")
    if not main and doors[0] != "-":
        raise Malformed("doors: a cabinet without a shared door has no door at slot 0")
    return Status(keys, doors, locks, _seq(fields), _boot_id(fields))


def _parse_reply(message: dict[str, Any]) -> Reply:
    rid = message["id"]
    if not is_int(rid, 1, MAX_ID):
        raise Malformed("id out of range")
    ok = _need(message, "ok", bool)
    rest = {k: v for k, v in message.items() if k not in ("id", "ok", "err")}
    if ok:
        if "err" in message:
            raise Malformed("err in a successful reply")
        return Reply(int(rid), True, None, rest)
    err = _need(message, "err", str)
    if err not in ERRORS:
        raise Malformed(f"unknown error code {err!r}")
    _only(rest, set())
    return Reply(int(rid), False, str(err), {})


def _parse_event(message: dict[str, Any], slots: int) -> WireEvent:
    name = message["ev"]
    fields = {k: v for k, v in message.items() if k != "ev"}
    match name:
        case "hb":
            _only(fields, {"seq", "up"})
            up = _need(fields, "up", int)
            if not is_int(up, 0, 2**53):
                raise Malformed("up out of range")
            return Heartbeat(_seq(fields), int(up))
        case "boot":
            seq = _seq(fields)
            if seq != 0:
                raise Malformed("boot event with seq other than 0")
            return BootEvent(seq, parse_hello({k: v for k, v in fields.items() if k != "seq"}))
        case "key":
            _only(fields, {"seq", "slot", "present"})
            slot = _slot(fields, slots)
            if slot == 0:
                raise Malformed("key event for slot 0")
            return KeyEvent(_seq(fields), slot, _need(fields, "present", bool))
        case "door":
            _only(fields, {"seq", "slot", "open"})
            return DoorEvent(_seq(fields), _slot(fields, slots), _need(fields, "open", bool))
        case "lock":
            _only(fields, {"seq", "slot", "locked"})
            return LockEvent(_seq(fields), _slot(fields, slots), _need(fields, "locked", bool))
        case "fault":
            _only(fields, {"seq", "code", "slot"})
            where = _slot(fields, slots) if "slot" in fields else None
            return FaultEvent(_seq(fields), _need(fields, "code", str), where)
    raise Malformed(f"unknown event {name!r}")


def parse_message(message: dict[str, Any], slots: int = MAX_SLOTS) -> Reply | WireEvent:
    """Validate one decoded message from a controller with ``slots`` slots (raises Malformed)."""
    if ("id" in message) == ("ev" in message):
        raise Malformed("a message needs exactly one of id and ev")
    if "id" in message:
        return _parse_reply(message)
    if not isinstance(message["ev"], str):
        raise Malformed("ev: expected str")
    return _parse_event(message, slots)


def request(rid: int, cmd: str, **args: Any) -> bytes:
    """One request frame: ``{"id":..,"cmd":..,...}``."""
    return encode({"id": rid, "cmd": cmd, **args})
