# lk.debounce under MicroPython: a change counts after 50 ms of stable reading; ticks wrap
# at 2**30 and are only compared through ticks_diff. A report comes 50 ticks after the first
# sample that saw the change, or 51 (never sooner; see fakes.near).
import mptest
from mptest import eq, ok

from fakes import near
from lk.debounce import DEBOUNCE_MS, Bank, Debounced
from lk.ticks import ticks_add, ticks_diff

NEAR_WRAP = 2**30 - 20  # 20 ms before MicroPython's ticks wrap to 0


def test_wrap_period_is_two_to_the_thirty():
    eq(ticks_add(2**30 - 1, 1), 0)
    eq(ticks_diff(0, 2**30 - 1), 1)
    eq(ticks_diff(2**30 - 1, 0), -1)


def test_debounce_ms_is_fifty():
    eq(DEBOUNCE_MS, 50)


def _first_report(d, raw, start, limit=200):
    """Sample `raw` every ms from `start` (ticks); the ms after start of the first report."""
    for k in range(limit):
        got = d.sample(raw, ticks_add(start, k))
        if got is not None:
            eq(got, raw)
            return k
    return None


def test_stable_change_is_reported_at_fifty_ms():
    d = Debounced(False, 0)
    eq(d.sample(True, 0), None)
    near(ticks_diff(d.next_due(0), 0), 50)
    eq(d.value, False)
    at = _first_report(d, True, 1) + 1
    near(at, 50)
    eq(d.value, True)
    eq(d.next_due(at), None)
    eq(d.sample(True, at + 1), None)  # reported once
    eq(d.sample(True, at + 500), None)


def test_next_due_is_when_the_report_comes():
    d = Debounced(False, 0)
    d.sample(True, 0)
    due = d.next_due(0)
    eq(d.sample(True, due - 1), None)
    eq(d.sample(True, due), True)


def test_a_late_sample_reports_the_change_when_taken():
    d = Debounced(True, 1000)
    d.sample(False, 1000)
    eq(d.sample(False, 1300), False)


def test_glitch_shorter_than_fifty_ms_is_never_reported():
    d = Debounced(False, 0)
    eq(d.sample(True, 0), None)
    eq(d.sample(True, 49), None)
    eq(d.sample(False, 49), None)  # back before 50 ms
    for t in range(50, 500, 7):
        eq(d.sample(False, t), None)
    eq(d.value, False)
    eq(d.next_due(500), None)


def test_chatter_is_never_reported():
    d = Debounced(False, 0)
    raw = False
    for t in range(0, 2000, 10):  # toggles every 30 ms: never 50 ms stable
        if t % 30 == 0:
            raw = not raw
        eq(d.sample(raw, t), None, "t=%d" % t)
    eq(d.value, False)


def test_the_wait_restarts_on_each_change():
    d = Debounced(False, 0)
    d.sample(True, 0)
    d.sample(False, 30)
    d.sample(True, 40)  # stable from 40
    near(_first_report(d, True, 41) + 41, 90)


def test_across_the_ticks_wrap():
    t0 = NEAR_WRAP
    d = Debounced(False, t0)
    eq(d.sample(True, t0), None)
    due = d.next_due(t0)
    ok(0 <= due < 2**30, repr(due))
    ok(due < t0, "wrapped: %d" % due)
    near(ticks_diff(due, t0), 50)
    near(_first_report(d, True, ticks_add(t0, 1)) + 1, 50)  # crosses 2**30 -> 0 on the way


def test_glitch_across_the_ticks_wrap():
    t0 = NEAR_WRAP
    d = Debounced(True, t0)
    d.sample(False, ticks_add(t0, 10))
    eq(d.sample(True, ticks_add(t0, 40)), None)  # 30 ms, across the wrap
    for k in range(40, 300, 10):
        eq(d.sample(True, ticks_add(t0, k)), None)
    eq(d.value, True)


def test_bank_same_rule_per_input():
    b = Bank(4, 0)
    b.settle(1, True)
    eq(b.value[1], 1)
    eq(b.sample(1, True, 0), None)  # no change
    eq(b.sample(2, True, 0), None)
    eq(b.sample(3, True, 10), None)
    eq(b.waiting, 2)
    due = b.next_due(10)
    near(due, 50)
    eq(b.sample(2, True, due - 1), None)
    eq(b.sample(2, True, due), True)
    eq(b.sample(3, False, 40), None)  # glitch cancelled
    eq(b.waiting, 0)
    eq(b.next_due(60), None)
    eq(b.sample(3, False, 100), None)
    eq(list(b.value), [0, 1, 1, 0])


def test_bank_across_the_ticks_wrap():
    t0 = NEAR_WRAP
    b = Bank(3, t0)
    b.sample(1, True, t0)
    b.sample(2, True, ticks_add(t0, 5))
    due = b.next_due(t0)
    near(ticks_diff(due, t0), 50)
    eq(b.sample(1, True, ticks_add(due, -1)), None)
    eq(b.sample(1, True, due), True)
    due2 = b.next_due(due)
    eq(ticks_diff(due2, due), 5)
    eq(b.sample(2, True, due2), True)
    eq(b.waiting, 0)


def test_settle_cancels_a_pending_change():
    b = Bank(2, 0)
    b.sample(1, True, 0)
    eq(b.waiting, 1)
    b.settle(1, False)
    eq(b.waiting, 0)
    eq(b.sample(1, False, 100), None)


if __name__ == "__main__":
    mptest.main(globals())
