# lk.core, the protocol state machine, under MicroPython with a fake io.
import mptest
from mptest import eq, ok

from fakes import BOOT_RAND, Host, board, near, when
from lk.core import Core
from lk.frame import crc16, decode, encode
from lk.ticks import ticks_add, ticks_diff

NEAR_WRAP = 2**30 - 100


def framed(body):
    return body + b"*%04X" % crc16(body)


def test_boot_event():
    h = Host()
    b = h.boot_event
    eq(b["ev"], "boot")
    eq(b["seq"], 0)
    eq(b["boot"], "%08x" % BOOT_RAND)
    eq(b["proto"], 1)
    eq(b["slots"], 4)
    eq(b["main"], False)
    eq(b["fw"], "fw-test")


def test_boot_id_is_eight_lower_case_hex_even_for_large_random_numbers():
    for value in (0, 1, 0xFFFFFFFF, 0x80000000, 2**40 + 5):
        core = Core(board(), Host().io, lambda v=value: v, "fw")
        b = decode(core.power_up(0)[0][:-1])
        eq(len(b["boot"]), 8)
        eq(b["boot"], b["boot"].lower())
        eq(int(b["boot"], 16), value & 0xFFFFFFFF)


def test_a_reset_always_changes_the_boot_id():
    values = [7, 7, 7, 9]
    core = Core(board(), Host().io, lambda: values.pop(0), "fw")
    first = decode(core.power_up(0)[0][:-1])["boot"]
    second = decode(core.power_up(10)[0][:-1])["boot"]
    ok(first != second, "%s %s" % (first, second))


def test_hello_and_status():
    h = Host()
    reply = h.ok("hello")
    eq(reply["proto"], 1)
    eq(reply["slots"], 4)
    eq(reply["boot"], h.boot)
    eq(reply["main"], False)
    reply = h.ok("status")
    eq(reply["keys"], "-0000")
    eq(reply["doors"], "-----")
    eq(reply["locks"], "-1111")
    eq(reply["seq"], 0)
    eq(reply["boot"], h.boot)


def test_status_of_a_shared_door_cabinet():
    h = Host(board(kind="shared_door", slots=3, doors=True), doors=True)
    reply = h.ok("status")
    eq(reply["keys"], "-000")
    eq(reply["doors"], "0---")
    eq(reply["locks"], "1---")
    eq(h.boot_event["main"], True)
    h.ok("unlock", slot=0, ms=1000)
    eq(h.io.on[0], True)
    reply, _ = h.request("unlock", slot=1, ms=1000)
    eq(reply["err"], "bad_slot")


def test_error_codes_in_the_protocols_order():
    h = Host()
    cases = [
        (dict(cmd="unlock", slot=1, ms=10), "stale_boot"),  # boot missing
        (dict(cmd="unlock", slot=1, ms=10, boot="00000000"), "stale_boot"),
        (dict(cmd="unlock", slot=99, ms=0, boot="00000000"), "stale_boot"),  # boot first
        (dict(cmd="unlock", slot="1", ms=10, boot=h.boot), "bad_arg"),
        (dict(cmd="unlock", ms=10, boot=h.boot), "bad_arg"),
        (dict(cmd="unlock", slot=5, ms=10, boot=h.boot), "bad_slot"),
        (dict(cmd="unlock", slot=0, ms=10, boot=h.boot), "bad_slot"),  # no shared door
        (dict(cmd="unlock", slot=-1, ms=0, boot=h.boot), "bad_slot"),  # slot before ms
        (dict(cmd="unlock", slot=1, ms=0, boot=h.boot), "bad_arg"),
        (dict(cmd="unlock", slot=1, ms=60001, boot=h.boot), "bad_arg"),
        (dict(cmd="unlock", slot=1, ms=1.5, boot=h.boot), "bad_arg"),
        (dict(cmd="unlock", slot=1, ms=True, boot=h.boot), "bad_arg"),
        (dict(cmd="lock", slot=1), "stale_boot"),
        (dict(cmd="lock_all", boot="x"), "stale_boot"),
        (dict(cmd="beep", pattern="tune"), "bad_arg"),
        (dict(cmd="fly"), "unknown_cmd"),
        (dict(cmd=5), "unknown_cmd"),
        (dict(), "unknown_cmd"),
    ]
    rid = 1000
    for args, err in cases:
        rid += 1
        pairs = [("id", rid)] + sorted(args.items())
        msgs = h.send_line(encode(pairs)[:-1])
        eq(msgs, [{"id": rid, "ok": False, "err": err}], repr(args))
    eq(h.locks(), "-1111")


def test_unlock_ms_limits_are_inclusive():
    h = Host()
    h.ok("unlock", slot=1, ms=1)
    h.ok("unlock", slot=2, ms=60000)


def test_ids_up_to_two_to_the_31_minus_1():
    h = Host()
    big = 2**31 - 1
    reply, _ = h.request("ping", rid=big)
    eq(reply, {"id": big, "ok": True})
    reply, _ = h.request("ping", rid=1)
    eq(reply, {"id": 1, "ok": True})
    reply, _ = h.request("ping", rid=big + 1)
    eq(reply, {"id": big + 1, "ok": False, "err": "bad_arg"})


def test_bad_ids_are_echoed():
    h = Host()
    for body, want in (
        (b'{"cmd":"ping"}', None),
        (b'{"id":null,"cmd":"ping"}', None),
        (b'{"id":"7","cmd":"ping"}', "7"),
        (b'{"id":1.0,"cmd":"ping"}', 1.0),
        (b'{"id":-3,"cmd":"ping"}', -3),
        (b'{"id":true,"cmd":"ping"}', True),
        (b'{"id":[1,{"a":2}],"cmd":"ping"}', [1, {"a": 2}]),
    ):
        eq(h.send_line(framed(body)), [{"id": want, "ok": False, "err": "bad_arg"}], repr(body))


def test_a_number_beyond_two_to_the_53_drops_the_line():
    h = Host()
    eq(h.send_line(framed(b'{"id":9007199254740993,"cmd":"ping"}')), [])
    eq(h.send_line(framed(b'{"id":1,"cmd":"ping","x":1e400}')), [])
    eq(h.core.dropped.get("bad_number"), 2)
    eq(h.send_line(framed(b'{"id":9007199254740992,"cmd":"ping"}')),
       [{"id": 2**53, "ok": False, "err": "bad_arg"}])


def test_dropped_lines_are_counted_and_never_acted_on():
    h = Host()
    good = encode([("id", 1), ("cmd", "unlock"), ("slot", 1), ("ms", 1000), ("boot", h.boot)])
    good = good[:-1]
    eq(h.send_line(good[:-4] + good[-4:].lower()), [])
    eq(h.send_line(good[:-1]), [])
    eq(h.send_line(b"[1]*%04X" % crc16(b"[1]")), [])
    eq(h.send_line(b"x" * 1025), [])
    eq(h.send_line(b""), [])  # an empty line is not even counted
    eq(h.locks(), "-1111")
    eq(h.core.dropped, {"bad_crc": 1, "no_crc": 1, "not_object": 1, "too_long": 1})
    eq(h.core.frames_received, 0)
    eq(h.send_line(good + b"\r")[0], {"id": 1, "ok": True})
    eq(h.locks(), "-0111")


def test_events_are_numbered_from_one():
    h = Host()
    h.ok("unlock", slot=1, ms=100)
    h.ok("unlock", slot=2, ms=100)
    h.step(200)
    seqs = [m["seq"] for m in h.seen if "ev" in m and m["ev"] != "hb"]
    eq(seqs, [0, 1, 2, 3, 4])
    eq(h.ok("status")["seq"], 4)


def test_heartbeat_every_second_with_the_last_seq():
    h = Host()
    eq(h.step(999, every=1), [])
    msgs = h.step(1)
    eq(msgs, [{"ev": "hb", "seq": 0, "up": 1000}])
    h.ok("unlock", slot=1, ms=5000)
    msgs = [m for m in h.step(1000, every=10) if m.get("ev") == "hb"]
    eq(msgs, [{"ev": "hb", "seq": 1, "up": 2000}])
    # one heartbeat however late the poll, and the schedule keeps its phase
    msgs = [m for m in h.step(3500) if m.get("ev") == "hb"]
    eq(len(msgs), 1)
    eq(msgs[0]["up"], 5500)
    eq([m["up"] for m in h.step(500, every=1) if m.get("ev") == "hb"], [6000])


def test_uptime_keeps_counting_across_the_ticks_wrap():
    h = Host(now=NEAR_WRAP)
    ups = [m["up"] for m in h.step(3000, every=50) if m.get("ev") == "hb"]
    eq(ups, [1000, 2000, 3000])


def test_key_sensor_events_are_debounced():
    h = Host()
    h.io.key[2] = True
    eq(h.step(0), [])  # the first sample that sees the key: the 50 ms start here
    eq(h.step(49, every=1), [])
    seen = []
    near(49 + when(h, lambda msgs: seen.extend(msgs) or msgs), 50)
    eq(seen, [{"ev": "key", "seq": 1, "slot": 2, "present": True}])
    eq(h.ok("status")["keys"], "-0100")
    h.io.key[2] = False  # a 30 ms glitch
    h.step(30, every=1)
    h.io.key[2] = True
    eq([m for m in h.step(500, every=1) if m.get("ev") != "hb"], [])


def test_door_sensor_events():
    h = Host(board(doors=True), doors=True)
    eq(h.ok("status")["doors"], "-0000")
    h.io.door[3] = True
    msgs = h.step(60, every=5)
    eq(msgs, [{"ev": "door", "seq": 1, "slot": 3, "open": True}])


def test_sensors_read_at_power_up_are_the_state_without_events():
    data = board()
    h = Host(data)
    h.io.key[1] = True
    h.core.power_up(h.now)  # a reset: a new boot id
    eq(h.ok("status")["keys"], "-1000")
    eq([m for m in h.step(200, every=10) if m.get("ev") == "key"], [])


def test_lock_all_with_a_faulty_output_locks_the_rest():
    h = Host()
    for s in (1, 2, 3):
        h.ok("unlock", slot=s, ms=5000)
    h.io.failing.add(2)
    reply, events = h.request("lock_all")
    eq(reply["err"], "hw_fault")
    locked = sorted((m["slot"], m["locked"]) for m in events if m.get("ev") == "lock")
    eq(locked, [(1, True), (3, True)])
    faults = [m for m in events if m.get("ev") == "fault"]
    eq([(m["code"], m["slot"]) for m in faults], [("output", 2)])
    eq(h.locks(), "-1011")
    h.io.failing.clear()
    msgs = h.step(1100, every=10)  # the relock is retried (RETRY_MS)
    eq([(m["slot"], m["locked"]) for m in msgs if m.get("ev") == "lock"], [(2, True)])
    eq(h.locks(), "-1111")


def test_unlock_with_a_faulty_output_is_hw_fault_and_changes_nothing():
    h = Host()
    h.io.failing.add(1)
    reply, events = h.request("unlock", slot=1, ms=1000)
    eq(reply["err"], "hw_fault")
    eq(h.locks(), "-1111")
    eq([m["ev"] for m in events], ["fault"])


def test_beep_plays_a_pattern_on_the_buzzer():
    h = Host(board(buzzer=True))
    h.ok("beep", pattern="error")
    h.step(1000, every=10)
    eq(h.io.buzzes[0], True)
    eq(h.io.buzzes[-1], False)
    eq(h.io.buzzes.count(True), 2)


def test_next_deadline_is_the_heartbeat_at_most():
    h = Host()
    d = h.core.next_deadline(h.now)
    eq(ticks_diff(d, h.now), 1000)
    h.ok("unlock", slot=1, ms=300)
    near(ticks_diff(h.core.next_deadline(h.now), h.now), 300)


def test_next_deadline_near_the_ticks_wrap_is_a_valid_ticks_value():
    # MicroPython's ticks_diff/ticks_add take small ints only (< 2**30 on a 32-bit port): a
    # larger int gives a wrong answer, so a deadline must itself be a wrapped ticks value.
    h = Host(now=NEAR_WRAP)
    d = h.core.next_deadline(h.now)
    ok(0 <= d < 2**30, "next_deadline(%d) = %d, beyond the ticks period" % (h.now, d))
    eq(ticks_diff(d, h.now), 1000)
    eq(d, ticks_add(NEAR_WRAP, 1000))


if __name__ == "__main__":
    mptest.main(globals())
