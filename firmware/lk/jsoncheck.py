"""A strict JSON checker for received lines: exactly what CPython's json module accepts.

MicroPython's json.loads takes much that CPython's refuses (trailing commas, missing colons,
mismatched brackets, leading zeros, raw control characters in strings, overlong UTF-8), and
reads 1e400 as inf and huge integers as big ints. A line the host side would drop must be
dropped here too, so lines are checked by this scanner before json.loads builds the values.
It also applies the protocol's number rule: integers within +-2**53, finite doubles.

Iterative, no recursion, so a line of 500 nested brackets costs a list, not the C stack.
"""

MAX_INT = 1 << 53
_ESCAPES = b'"\\/bfnrt'
_DBL_HALFWAY = None  # digits of 2**1024 - 2**970: the least decimal that overflows a double


class Invalid(ValueError):
    """Not acceptable JSON; `reason` is "bad_json" or "bad_number"."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _bad(reason="bad_json"):
    return Invalid(reason)


def _ws(b, i, n):
    while i < n and b[i] in (32, 9, 10, 13):
        i += 1
    return i


def check(b):
    """Checks that bytes `b` are exactly one JSON value; returns True if it is an object,
    False otherwise; raises Invalid."""
    n = len(b)
    closers = []  # 0x7D "}" or 0x5D "]" for each open container
    i = _ws(b, 0, n)
    is_object = i < n and b[i] == 0x7B
    while True:  # a value starts at i (after whitespace)
        i = _ws(b, i, n)
        if i >= n:
            raise _bad()
        c = b[i]
        if c == 0x7B or c == 0x5B:  # { [
            close = c + 2
            i = _ws(b, i + 1, n)
            if i < n and b[i] == close:
                i += 1
            else:
                closers.append(close)
                if close == 0x7D:
                    i = _key(b, i, n)
                continue
        elif c == 0x22:
            i = _string(b, i + 1, n)
        elif c == 0x74:
            i = _word(b, i, b"true")
        elif c == 0x66:
            i = _word(b, i, b"false")
        elif c == 0x6E:
            i = _word(b, i, b"null")
        else:
            i = _number(b, i, n)
        while True:  # a value ended before i: a comma, a closer or the end must follow
            i = _ws(b, i, n)
            if not closers:
                if i != n:
                    raise _bad()
                return is_object
            if i >= n:
                raise _bad()
            c = b[i]
            if c == 0x2C:
                i += 1
                if closers[-1] == 0x7D:
                    i = _key(b, _ws(b, i, n), n)
                break
            if c != closers[-1]:
                raise _bad()
            closers.pop()
            i += 1


def _key(b, i, n):
    """A member name and its colon at i; returns where the value may start."""
    if i >= n or b[i] != 0x22:
        raise _bad()
    i = _ws(b, _string(b, i + 1, n), n)
    if i >= n or b[i] != 0x3A:
        raise _bad()
    return i + 1


def _word(b, i, word):
    if b[i : i + len(word)] != word:
        raise _bad()
    return i + len(word)


def _string(b, i, n):
    """The rest of a string whose opening quote is before i; returns the index after it."""
    while i < n:
        c = b[i]
        if c == 0x22:
            return i + 1
        if c == 0x5C:
            e = b[i + 1] if i + 1 < n else 0
            if e == 0x75:  # \uXXXX
                if i + 6 > n:
                    raise _bad()
                for h in b[i + 2 : i + 6]:
                    if not (48 <= h <= 57 or 65 <= h <= 70 or 97 <= h <= 102):
                        raise _bad()
                i += 6
            elif e and e in _ESCAPES:
                i += 2
            else:
                raise _bad()
        elif c < 0x20:
            raise _bad()  # raw control characters are not allowed in JSON strings
        elif c < 0x80:
            i += 1
        else:
            i = _utf8(b, i, n)
    raise _bad()


def _utf8(b, i, n):
    """One well-formed UTF-8 sequence at i (no overlong forms, no surrogates)."""
    c = b[i]
    lo, hi = 0x80, 0xBF
    if 0xC2 <= c <= 0xDF:
        more = 1
    elif 0xE0 <= c <= 0xEF:
        more = 2
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
    elif 0xF0 <= c <= 0xF4:
        more = 3
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
    else:
        raise _bad()
    if i + more >= n:
        raise _bad()
    for k in range(1, more + 1):
        if not lo <= b[i + k] <= hi:
            raise _bad()
        lo, hi = 0x80, 0xBF
    return i + more + 1


def _digits(b, i, n):
    start = i
    while i < n and 48 <= b[i] <= 57:
        i += 1
    return i, i - start


def _number(b, i, n):
    """A JSON number at i, within the protocol's rules; returns the index after it."""
    start = i
    if b[i] == 0x2D:
        i += 1
    int_start = i
    i, count = _digits(b, i, n)
    if count == 0 or (count > 1 and b[int_start] == 48):
        raise _bad()  # no digits, or a leading zero
    int_end = i
    frac = b""
    exp = 0
    is_float = False
    if i < n and b[i] == 0x2E:
        i, count = _digits(b, i + 1, n)
        if count == 0:
            raise _bad()
        frac = b[i - count : i]
        is_float = True
    if i < n and b[i] in (0x65, 0x45):
        j = i + 1
        if j < n and b[j] in (0x2B, 0x2D):
            j += 1
        i, count = _digits(b, j, n)
        if count == 0:
            raise _bad()
        exp = int(b[j:i].decode())
        if b[j - 1] == 0x2D:
            exp = -exp
        is_float = True
    if not is_float:
        if abs(int(b[start:i].decode())) > MAX_INT:
            raise _bad("bad_number")
        return i
    _check_double(b[int_start:int_end] + frac, int_end - int_start, exp)
    return i


def _check_double(digits, int_count, exp):
    """Raises bad_number if digits (int and fraction digits, `int_count` of them before the
    point) times 10**exp overflows an IEEE double; underflow to 0 is fine, as in CPython."""
    global _DBL_HALFWAY
    lead = 0
    while lead < len(digits) and digits[lead] == 48:
        lead += 1
    if lead == len(digits):
        return  # zero
    magnitude = int_count - 1 - lead + exp  # decimal exponent of the first significant digit
    if magnitude < 308:
        return
    if magnitude == 308:
        # Compare digit by digit with the halfway point between DBL_MAX and 2**1024 (rounding
        # to even takes that point itself to infinity, as CPython's float() does).
        if _DBL_HALFWAY is None:
            _DBL_HALFWAY = str((1 << 1024) - (1 << 970)).encode()
        sig = digits[lead:]
        size = max(len(sig), len(_DBL_HALFWAY))
        if sig + b"0" * (size - len(sig)) < _DBL_HALFWAY + b"0" * (size - len(_DBL_HALFWAY)):
            return
    raise _bad("bad_number")
