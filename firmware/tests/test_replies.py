# lk.replies and the reply memory as Core uses it (protocol v1, sections 2 and 5):
# the replies to the last 8 ids; a retry is answered again, not executed again; hello clears
# the others; a retried hello clears nothing.
import mptest
from mptest import eq, ok

from fakes import Host, near, relocked, when
from lk.replies import SIZE, Replies


def test_size_is_eight():
    eq(SIZE, 8)


def test_remembers_the_last_eight_ids_oldest_evicted():
    r = Replies()
    for rid in range(1, 9):
        r.put(rid, b"reply %d" % rid)
    eq(len(r), 8)
    for rid in range(1, 9):
        eq(r.get(rid), b"reply %d" % rid)
    r.put(9, b"reply 9")
    eq(len(r), 8)
    eq(r.get(1), None)
    eq(r.get(2), b"reply 2")
    eq(r.get(9), b"reply 9")
    r.put(10, b"reply 10")
    eq(r.get(2), None)


def test_a_lookup_does_not_refresh_an_entry():
    r = Replies()
    for rid in range(1, 9):
        r.put(rid, b"x")
    ok(r.get(1) is not None)
    r.put(9, b"y")
    eq(r.get(1), None)  # still the oldest answered


def test_clear():
    r = Replies()
    r.put(5, b"x")
    r.clear()
    eq(len(r), 0)
    eq(r.get(5), None)


def test_large_ids():
    r = Replies()
    r.put(2**31 - 1, b"big")
    eq(r.get(2**31 - 1), b"big")
    eq(r.get(2**31 - 2), None)


# ---- through Core: a retried unlock must not re-arm the relock timer -----------------------


def _relocked_at(h, start):
    """The ms from `start` until slot 1 relocks."""
    return h.now - start + when(h, relocked(1))


def test_retry_is_answered_from_memory_and_not_executed():
    h = Host()
    start = h.now
    first, events = h.request("unlock", rid=5, slot=1, ms=1000)
    eq(first["ok"], True)
    eq([(m["ev"], m["slot"], m["locked"]) for m in events], [("lock", 1, False)])
    h.step(900)
    again, events = h.request("unlock", rid=5, slot=1, ms=1000)
    eq(again, first)
    eq(events, [])
    near(_relocked_at(h, start), 1000)  # not re-armed at 900


def test_an_id_evicted_from_memory_is_executed_again():
    h = Host()
    start = h.now
    h.request("unlock", rid=5, slot=1, ms=1000)
    for rid in range(6, 14):  # 8 more ids: 5 is forgotten
        h.request("ping", rid=rid)
    h.step(900)
    h.request("unlock", rid=5, slot=1, ms=1000)  # a new request now: re-arms
    near(_relocked_at(h, start), 1900)


def test_hello_clears_the_other_ids():
    h = Host()
    start = h.now
    h.request("unlock", rid=5, slot=1, ms=1000)
    h.request("hello", rid=6)
    h.step(900)
    h.request("unlock", rid=5, slot=1, ms=1000)  # executed again after hello
    near(_relocked_at(h, start), 1900)


def test_a_retried_hello_clears_nothing():
    h = Host()
    start = h.now
    hello, _ = h.request("hello", rid=6)
    h.request("unlock", rid=7, slot=1, ms=1000)
    again, _ = h.request("hello", rid=6)  # answered from memory
    eq(again, hello)
    h.step(900)
    h.request("unlock", rid=7, slot=1, ms=1000)  # still remembered: not re-armed
    near(_relocked_at(h, start), 1000)


def test_invalid_ids_are_neither_executed_nor_remembered():
    h = Host()
    reply, _ = h.request("ping", rid=0)
    eq(reply, {"id": 0, "ok": False, "err": "bad_arg"})
    reply, _ = h.request("ping", rid=2**31)
    eq(reply, {"id": 2**31, "ok": False, "err": "bad_arg"})
    eq(len(h.core.replies), 0)


if __name__ == "__main__":
    mptest.main(globals())
