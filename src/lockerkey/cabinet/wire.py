"""Framing of the cabinet link (protocol v1, section 1): ``JSON*CRC`` lines.

Only framing lives here so far: a line either decodes to a JSON object whose CRC checks, or it
is dropped and counted. Nothing in a dropped line is ever acted on, and no input of any kind
makes the decoder raise.
"""

from __future__ import annotations

import binascii
import json
import math
from collections import Counter
from typing import Any

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

    def decode(self, line: bytes) -> dict[str, Any] | None:
        """The message in one line (without or with its line end), or None if it is dropped."""
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if not line:
            return None  # an empty line is a resync, not an error
        if len(line) > MAX_LINE:
            return self._drop("too_long")
        body, star, crc = line.rpartition(b"*")
        digits = crc.decode("latin-1")
        if not star or len(crc) != 4 or not set(digits.upper()) <= _HEX:
            return self._drop("no_crc")
        # Lower-case hex digits are a bad CRC by the protocol's rule, whatever their value.
        if digits != digits.upper() or int(crc, 16) != crc16(body):
            return self._drop("bad_crc")
        try:
            message = json.loads(
                body.decode("utf-8"),
                parse_constant=_reject_constant,
                parse_float=_check_number,
                parse_int=_check_int,
            )
        except (UnicodeDecodeError, ValueError, RecursionError):
            return self._drop("bad_json")
        if not isinstance(message, dict):
            return self._drop("not_object")
        return message

    def _drop(self, reason: str) -> dict[str, Any] | None:
        self.dropped[reason] += 1
        return None
