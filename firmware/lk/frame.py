"""Framing of the cabinet link: `JSON*CRC` lines (protocol v1, section 1).

decode() is strict on purpose. MicroPython's json.loads is lenient (it takes `[1,]`,
`{"a" 1}`, `{"a":1]`, `01`, raw control characters, overlong UTF-8...), and anything it
accepts that the host's CPython decoder would drop could be acted on. So every line is first
checked by jsoncheck (the JSON grammar, UTF-8 and the protocol's number rules), and only
then handed to json.loads to build the values.

encode() writes its own compact JSON for the same reason in the other direction: MicroPython's
json.dumps escapes differently (`\\u0008` for `\\b`) and its dicts do not keep insertion order.
"""

import json

from lk import jsoncheck

try:
    from array import array

    _TABLE = array("H", [0] * 256)
except ImportError:  # a port without array: a list costs twice the memory, same result
    _TABLE = [0] * 256

MAX_LINE = 1024  # bytes, line end not counted
_MAX_DEPTH = 8  # nesting written back when echoing an unusable id
_SHORT = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r", 34: '\\"', 92: "\\\\"}


def _build_table():
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        _TABLE[byte] = crc & 0xFFFF


_build_table()


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): b"123456789" -> 0x29B1."""
    table = _TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFF00) ^ table[(crc >> 8) ^ byte]
    return crc


class FrameError(ValueError):
    """A line that is dropped whole; `reason` is the drop counter's name."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# ---- decoding -----------------------------------------------------------------------------


def decode(line):
    """The JSON object in one received line, None for an empty line, else FrameError.

    `line` is bytes without its `\\n`; a `\\r` before it is ignored. Reasons: too_long,
    no_crc, bad_crc (also lower-case hex), bad_json (grammar or UTF-8), bad_number (NaN,
    Infinity, a double overflow or an integer beyond +-2**53), not_object.
    """
    if line[-1:] == b"\r":
        line = line[:-1]
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise FrameError("too_long")
    star = line.rfind(b"*")
    digits = line[star + 1 :]
    if star < 0 or len(digits) != 4:
        raise FrameError("no_crc")
    value = 0
    lower = False
    for c in digits:
        if 48 <= c <= 57:
            value = (value << 4) | (c - 48)
        elif 65 <= c <= 70:
            value = (value << 4) | (c - 55)
        elif 97 <= c <= 102:
            lower = True  # a valid digit, but the protocol wants upper case: a bad CRC
        else:
            raise FrameError("no_crc")
    body = line[:star]
    if lower or value != crc16(body):
        raise FrameError("bad_crc")
    try:
        is_object = jsoncheck.check(body)
    except jsoncheck.Invalid as e:
        raise FrameError(e.reason) from None
    if not is_object:
        raise FrameError("not_object")
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:  # not expected after the check; still never a reason to act
        raise FrameError("bad_json") from None


# ---- encoding -----------------------------------------------------------------------------


def encode(obj):
    """One frame, `\\n` included: compact JSON, `*`, 4 upper-case hex digits of the CRC.

    `obj` is a dict, or a list/tuple of (name, value) pairs written in that order.
    """
    parts = ["{"]
    items = obj.items() if type(obj) is dict else obj
    for name, value in items:
        if len(parts) > 1:
            parts.append(",")
        _string_out(name, parts)
        parts.append(":")
        _value_out(value, parts, 0)
    parts.append("}")
    body = "".join(parts).encode()
    return body + ("*%04X\n" % crc16(body)).encode()


def _value_out(v, parts, depth):
    t = type(v)
    if v is None:
        parts.append("null")
    elif v is True:
        parts.append("true")
    elif v is False:
        parts.append("false")
    elif t is int:
        parts.append(str(v))
    elif t is float:
        # Only an echoed id can be a float; a non-finite one (a single-precision port reads
        # 1e39 as inf) has no JSON form.
        parts.append(repr(v) if v == v and v - v == 0 else "null")
    elif t is str:
        _string_out(v, parts)
    elif depth >= _MAX_DEPTH:
        raise ValueError("nested too deep")
    elif t is dict:
        parts.append("{")
        first = True
        for name, item in v.items():
            if not first:
                parts.append(",")
            first = False
            _string_out(name, parts)
            parts.append(":")
            _value_out(item, parts, depth + 1)
        parts.append("}")
    elif t is list or t is tuple:
        parts.append("[")
        for k in range(len(v)):
            if k:
                parts.append(",")
            _value_out(v[k], parts, depth + 1)
        parts.append("]")
    else:
        raise ValueError("cannot encode")


def _string_out(s, parts):
    """A JSON string as CPython's json.dumps(ensure_ascii=False) writes it, except that a lone
    surrogate (only ever in an echoed id) is escaped: it has no UTF-8 form."""
    if not s or ('"' not in s and "\\" not in s and min(s) >= " " and max(s) < "\ud800"):
        parts.append('"' + s + '"')
        return
    out = ['"']
    for ch in s:
        code = ord(ch)
        if code in _SHORT:
            out.append(_SHORT[code])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append("\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    parts.append("".join(out))
