# lk.frame (and lk.jsoncheck behind it) under MicroPython: protocol v1, section 1 and 5.
import mptest
from mptest import eq, ok, raises

from lk import frame
from lk.frame import FrameError, crc16, decode, encode

EXAMPLE = b'{"id":7,"cmd":"unlock","slot":12,"ms":30000,"boot":"1a2b3c4d"}*097F'


def reason(line):
    """The drop reason decode() gives for a line."""
    return raises(FrameError, decode, line).reason


def framed(body):
    """A line with a correct CRC for `body` (bytes), without its line end."""
    return body + b"*%04X" % crc16(body)


def test_crc_check_value():
    eq(crc16(b"123456789"), 0x29B1)


def test_crc_empty_and_incremental():
    eq(crc16(b""), 0xFFFF)
    eq(crc16(b"56789", crc16(b"1234")), 0x29B1)


def test_spec_example_frame_decodes():
    eq(
        decode(EXAMPLE),
        {"id": 7, "cmd": "unlock", "slot": 12, "ms": 30000, "boot": "1a2b3c4d"},
    )


def test_spec_example_frame_encodes_byte_for_byte():
    pairs = [("id", 7), ("cmd", "unlock"), ("slot", 12), ("ms", 30000), ("boot", "1a2b3c4d")]
    eq(encode(pairs), EXAMPLE + b"\n")


def test_round_trip():
    values = [
        [("ev", "key"), ("seq", 1), ("slot", 3), ("present", True)],
        [("id", 1), ("ok", False), ("err", "bad_slot")],
        [("id", 2), ("ok", True), ("keys", "-0101"), ("doors", "-----"), ("locks", "-1111")],
        [("a", None), ("b", [1, 2, [3]]), ("c", {"d": "e"}), ("f", -5), ("g", 1.5)],
        [("s", 'quote " back \\ nl \n tab \t ctl \x01 del \x7f é 한 😀')],
    ]
    for pairs in values:
        line = encode(pairs)
        eq(line[-1:], b"\n")
        got = decode(line[:-1])
        want = {}
        for k, v in pairs:
            want[k] = v
        eq(got, want)


def test_encode_keeps_pair_order_and_is_compact():
    line = encode([("z", 1), ("a", 2), ("m", 3)])
    ok(line.startswith(b'{"z":1,"a":2,"m":3}*'), repr(line))


def test_encode_escapes_like_cpython_json():
    # json.dumps(..., ensure_ascii=False, separators=(",", ":")) writes exactly this.
    line = encode([("s", 'a"b\\c\n\x01\x08é')])
    eq(line[: line.rfind(b"*")], '{"s":"a\\"b\\\\c\\n\\u0001\\bé"}'.encode())


def test_encode_non_finite_float_is_null():
    inf = float("inf")
    ok(encode([("x", inf)]).startswith(b'{"x":null}*'))
    ok(encode([("x", inf - inf)]).startswith(b'{"x":null}*'))


def test_encode_crc_is_four_upper_case_hex_digits():
    for n in range(200):
        line = encode([("n", n)])
        digits = line[-5:-1]
        eq(len(digits), 4)
        for c in digits:
            ok(48 <= c <= 57 or 65 <= c <= 70, repr(line))
        eq(int(digits, 16), crc16(line[: line.rfind(b"*")]))


def test_lower_case_hex_is_rejected_like_a_bad_crc():
    eq(reason(EXAMPLE[:-4] + b"097f"), "bad_crc")
    # ...while a wrong upper-case CRC is the same reason
    eq(reason(EXAMPLE[:-4] + b"097E"), "bad_crc")


def test_missing_or_malformed_crc():
    eq(reason(EXAMPLE[:-5]), "no_crc")  # no star
    eq(reason(EXAMPLE[:-1]), "no_crc")  # 3 digits
    eq(reason(EXAMPLE + b"0"), "no_crc")  # 5 digits
    eq(reason(EXAMPLE[:-4] + b"09G7"), "no_crc")


def test_carriage_return_before_line_end_is_ignored():
    eq(decode(EXAMPLE + b"\r")["id"], 7)
    # only one, and only at the end
    eq(reason(EXAMPLE + b"\r\r"), "no_crc")


def test_empty_line_is_none():
    eq(decode(b""), None)
    eq(decode(b"\r"), None)


def test_line_length_limit():
    eq(frame.MAX_LINE, 1024)
    base = b'{"id":1,"cmd":"ping","pad":""}'
    pad = 1024 - len(framed(base))
    line = framed(b'{"id":1,"cmd":"ping","pad":"' + b"x" * pad + b'"}')
    eq(len(line), 1024)
    eq(decode(line)["cmd"], "ping")
    eq(decode(line + b"\r")["cmd"], "ping")  # the \r is not counted
    longer = framed(b'{"id":1,"cmd":"ping","pad":"' + b"x" * (pad + 1) + b'"}')
    eq(len(longer), 1025)
    eq(reason(longer), "too_long")
    eq(reason(b"x" * 5000), "too_long")


def test_non_object_json_is_rejected():
    for body in (b"[1,2]", b'"id"', b"7", b"null", b"true", b"[]", b'[{"id":1}]'):
        eq(reason(framed(body)), "not_object")


def test_bad_json_is_rejected():
    # All accepted by MicroPython's own json.loads; all refused by CPython's, so here too.
    for body in (
        b'{"id":1,}',
        b'{"id" 1}',
        b'{"id":1]',
        b'{"id":01}',
        b'{"id":1}x',
        b'{"id":1}{}',
        b'{"a":"raw\tcontrol"}',
        b'{"a":"\\x"}',
        b'{"a":"\\u12"}',
        b"{'a':1}",
        b'{"a":tru}',
        b'{"a":1.}',
        b'{"a":-}',
        b"",
        b"{",
    ):
        eq(reason(framed(body)), "bad_json", repr(body))


def test_bad_utf8_is_rejected():
    for body in (
        b'{"a":"\xff"}',
        b'{"a":"\xc0\xaf"}',  # overlong "/"
        b'{"a":"\xed\xa0\x80"}',  # a surrogate
        b'{"a":"\xe2\x82"}',  # truncated
    ):
        eq(reason(framed(body)), "bad_json", repr(body))
    eq(decode(framed('{"a":"한글 é 😀"}'.encode()))["a"], "한글 é 😀")


def test_whitespace_is_allowed_between_tokens():
    eq(decode(framed(b' { "id" : 7 , "x" : [ 1 , 2 ] } ')), {"id": 7, "x": [1, 2]})


def test_integer_sizes():
    big = 2**31 - 1
    line = encode([("id", big), ("seq", big), ("up", big)])
    eq(decode(line[:-1]), {"id": big, "seq": big, "up": big})
    eq(decode(framed(b'{"id":2147483647}'))["id"], 2147483647)
    eq(decode(framed(b'{"n":9007199254740992}'))["n"], 2**53)
    eq(decode(framed(b'{"n":-9007199254740992}'))["n"], -(2**53))


def test_numbers_beyond_the_protocol_are_rejected():
    for body in (
        b'{"n":9007199254740993}',  # 2**53 + 1
        b'{"n":-9007199254740993}',
        b'{"n":123456789012345678901234567890}',
        b'{"n":1e400}',  # MicroPython's json.loads reads it as inf
        b'{"n":-1e309}',
        b'{"n":1.8e308}',
    ):
        eq(reason(framed(body)), "bad_number", repr(body))
    for body in (b'{"n":NaN}', b'{"n":Infinity}', b'{"n":-Infinity}'):
        eq(reason(framed(body)), "bad_json", repr(body))


def test_finite_doubles_are_accepted():
    eq(decode(framed(b'{"n":1.5e3}'))["n"], 1500.0)
    eq(decode(framed(b'{"n":1e-400}'))["n"], 0.0)  # underflow is fine, as in CPython
    ok(decode(framed(b'{"n":1.7976931348623157e308}'))["n"] > 1e308)


def test_crc_covers_everything_before_the_last_star():
    line = framed(b'{"a":"x*y"}')
    eq(decode(line), {"a": "x*y"})
    # flip one byte of the body: the CRC no longer matches
    eq(reason(line[:6] + b"z" + line[7:]), "bad_crc")


def test_frame_error_is_a_value_error_with_a_reason():
    e = raises(FrameError, decode, b"nonsense")
    ok(isinstance(e, ValueError))
    eq(e.reason, "no_crc")


if __name__ == "__main__":
    mptest.main(globals())
