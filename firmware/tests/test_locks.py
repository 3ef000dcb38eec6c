# Lock outputs under MicroPython: the dead-man relock, pulse max on-time, hold, and the limit
# on outputs energised at once (lk.locks directly, and through Core with a fake io).
# A relock after `ms` comes at ms ticks or ms + 1 (never sooner; see fakes.near); a pulse
# output is off by max_on_ms ticks.
import mptest
from mptest import eq, ok

from fakes import Host, board, near, relocked, when
from lk.locks import Locks
from lk.ticks import ticks_add, ticks_diff

NEAR_WRAP = 2**30 - 300


def lock_events(msgs):
    return [(m["slot"], m["locked"]) for m in msgs if m.get("ev") == "lock"]


# ---- the dead-man relock ---------------------------------------------------------------------


def test_unlock_relocks_after_ms():
    h = Host()
    h.ok("unlock", slot=1, ms=1000)
    eq(h.io.on[1], True)
    eq(h.locks(), "-0111")
    eq(lock_events(h.step(999, every=1)), [])
    eq(h.locks(), "-0111")
    eq(h.io.on[1], True)
    near(999 + when(h, relocked(1)), 1000)
    eq(h.locks(), "-1111")
    eq(h.io.on[1], False)


def test_unlock_relocks_at_ms_even_if_polled_late():
    h = Host()
    h.ok("unlock", slot=2, ms=300)
    eq(lock_events(h.step(250)), [])
    eq(lock_events(h.step(400)), [(2, True)])


def test_a_second_unlock_rearms_the_relock_without_an_event():
    h = Host()
    h.ok("unlock", slot=1, ms=1000)
    h.step(600)
    _, events = h.request("unlock", slot=1, ms=1000)  # re-arm: relock 1000 ms from now
    eq(events, [])
    eq(h.locks(), "-0111")
    near(when(h, relocked(1)), 1000)


def test_lock_relocks_at_once_and_lock_on_a_locked_slot_sends_nothing():
    h = Host()
    h.ok("unlock", slot=3, ms=5000)
    _, events = h.request("lock", slot=3)
    eq(lock_events(events), [(3, True)])
    eq(h.io.on[3], False)
    _, events = h.request("lock", slot=3)
    eq(events, [])
    eq(lock_events(h.step(6000, every=100)), [])  # the timer is gone


def test_dead_man_across_the_ticks_wrap():
    h = Host(now=NEAR_WRAP)
    h.ok("unlock", slot=1, ms=1000)  # relocks 700 ms after the ticks wrap to 0
    near(when(h, relocked(1)), 1000)
    ok(700 <= h.now <= 701, repr(h.now))


def test_fail_secure_locks_everything_after_ten_seconds_of_silence():
    h = Host()
    h.ok("unlock", slot=1, ms=60000)
    h.ok("unlock", slot=2, ms=60000)
    eq(lock_events(h.step(9999, every=100)), [])
    near(9999 + when(h, relocked(1)), 10000)
    eq(h.locks(), "-1111")
    eq(h.io.energised(), [])
    eq(lock_events(h.step(20000, every=500)), [])  # once per silence


# ---- pulse and hold --------------------------------------------------------------------------


def test_pulse_output_is_off_after_max_on_ms_whatever_ms_was_asked():
    h = Host(mode="pulse", max_on_ms=500)
    h.ok("unlock", slot=1, ms=60000)
    eq(h.io.on[1], True)
    h.step(499, every=1)
    eq(h.io.on[1], True)
    eq(lock_events(h.step(1)), [])
    eq(h.io.on[1], False)  # the coil is off...
    eq(h.locks(), "-0111")  # ...and the lock still counts as released
    h.ok("ping")
    h.step(5000, every=50)
    eq(h.io.on[1], False)
    eq(h.locks(), "-0111")


def test_pulse_shorter_than_max_on_ms_ends_with_the_relock():
    h = Host(mode="pulse", max_on_ms=500)
    h.ok("unlock", slot=1, ms=200)
    h.step(199, every=1)
    eq(h.io.on[1], True)
    near(199 + when(h, relocked(1)), 200)
    eq(h.io.on[1], False)


def test_rearming_a_pulse_lock_never_energises_it_again():
    h = Host(mode="pulse", max_on_ms=500)
    h.ok("unlock", slot=1, ms=3000)
    h.step(600, every=10)
    eq(h.io.on[1], False)
    h.ok("unlock", slot=1, ms=3000)
    eq(h.io.on[1], False)
    ons = [w for w in h.io.writes if w[1] == 1 and w[2]]
    eq(len(ons), 1)
    near(when(h, relocked(1)), 3000)
    ons = [w for w in h.io.writes if w[1] == 1 and w[2]]
    eq(len(ons), 1)


def test_hold_output_stays_on_while_released():
    h = Host(mode="hold")
    h.ok("unlock", slot=2, ms=8000)
    for _ in range(79):
        h.step(100)
        eq(h.io.on[2], True, "at %d" % h.now)
    near(7900 + when(h, relocked(2)), 8000)
    eq(h.io.on[2], False)


# ---- at most max_energised on at once, switched on stagger_ms apart --------------------------


def _watch(h, ms, limit, stagger):
    """Step 1 ms at a time checking the limits; returns {slot: [on times]}."""
    starts = {}
    last_on = None
    for _ in range(ms):
        before = set(h.io.energised())
        h.step(1)
        after = set(h.io.energised())
        ok(len(after) <= limit, "%d outputs on at %d: %r" % (len(after), h.now, sorted(after)))
        for s in after - before:
            if last_on is not None:
                gap = ticks_diff(h.now, last_on)
                ok(gap >= stagger, "slot %d on %d ms after the previous one" % (s, gap))
            last_on = h.now
            starts.setdefault(s, []).append(h.now)
    return starts


def test_max_energised_pulse_mode_staggers_the_rest():
    h = Host(mode="pulse", max_on_ms=500, max_energised=2, stagger_ms=60)
    t0 = h.now
    for s in (1, 2, 3, 4):
        reply, events = h.request("unlock", slot=s, ms=5000)
        eq(reply["ok"], True)
        eq(lock_events(events), [(s, False)])  # released at once, energised when its turn comes
    eq(h.locks(), "-0000")
    eq(h.io.energised(), [1])
    starts = _watch(h, 1500, 2, 60)
    eq(starts.get(2), [t0 + 60])
    eq(starts.get(3), [t0 + 500])  # slot 1's pulse ended
    eq(starts.get(4), [t0 + 560])
    eq(h.io.energised(), [])
    eq(h.locks(), "-0000")


def test_max_energised_hold_mode_waits_for_a_free_output():
    h = Host(mode="hold", max_energised=2, stagger_ms=60)
    t0 = h.now
    h.ok("unlock", slot=1, ms=500)
    h.ok("unlock", slot=2, ms=500)
    h.ok("unlock", slot=3, ms=5000)
    h.ok("unlock", slot=4, ms=5000)
    starts = _watch(h, 1000, 2, 60)
    eq(starts.get(2), [t0 + 60])
    near(starts[3][0] - t0, 500)  # when slot 1 relocked
    # slot 2 relocked then too, but slot 4 waits 60 ms after slot 3
    eq(starts.get(4), [starts[3][0] + 60])
    eq(h.io.energised(), [3, 4])


def test_max_energised_one_with_stagger_zero():
    h = Host(mode="pulse", max_on_ms=100, max_energised=1, stagger_ms=0)
    for s in (1, 2, 3):
        h.ok("unlock", slot=s, ms=2000)
    starts = _watch(h, 500, 1, 0)
    eq(sorted(starts), [2, 3])
    eq(starts[2][0] - 0, 100)
    eq(starts[3][0] - 0, 200)


def test_lock_of_a_queued_release_takes_it_off_the_queue():
    h = Host(mode="hold", max_energised=1, stagger_ms=0)
    h.ok("unlock", slot=1, ms=3000)
    h.ok("unlock", slot=2, ms=3000)
    eq(h.io.energised(), [1])
    _, events = h.request("lock", slot=2)
    eq(lock_events(events), [(2, True)])
    h.ok("lock", slot=1)
    h.step(100, every=1)
    eq(h.io.energised(), [])


def test_staggering_across_the_ticks_wrap():
    h = Host(now=NEAR_WRAP, mode="pulse", max_on_ms=500, max_energised=2, stagger_ms=60)
    for s in (1, 2, 3, 4):
        h.ok("unlock", slot=s, ms=5000)
    starts = _watch(h, 1000, 2, 60)
    eq(starts.get(2), [ticks_add(NEAR_WRAP, 60)])
    eq(starts.get(3), [ticks_add(NEAR_WRAP, 500)])
    eq(starts.get(4), [ticks_add(NEAR_WRAP, 560)])


# ---- lk.locks on its own ---------------------------------------------------------------------


def _expiry(k, start, limit=5000):
    """The first ms after `start` at which expired() names a slot, and the slots."""
    for t in range(limit):
        due = k.expired(ticks_add(start, t))
        if due:
            return t, due
    return None, []


def test_locks_unit_pulse_cut_and_expiry():
    k = Locks(5, [1, 2, 3, 4], pulse=True, max_on_ms=500, max_energised=2, stagger_ms=60)
    ok(k.is_locked(1))
    eq(k.plan_unlock(1, 0), True)
    ok(k.unlock(1, 1000, 0, True))
    ok(k.is_on(1))
    eq(k.cuts(499), [])
    eq(k.cuts(500), [1])  # the coil's time is up at max_on_ms, not a tick later
    k.stopped(1)
    ok(not k.is_on(1))
    ok(not k.is_locked(1))
    t, due = _expiry(k, 0)
    near(t, 1000)
    eq(due, [1])
    ok(k.lock(1))
    ok(k.is_locked(1))
    eq(k.energised, 0)


def test_locks_unit_expiry_across_the_ticks_wrap():
    k = Locks(3, [1, 2])
    k.unlock(1, 1000, NEAR_WRAP, k.plan_unlock(1, NEAR_WRAP))
    k.unlock(2, 400, NEAR_WRAP, k.plan_unlock(2, NEAR_WRAP))
    t, due = _expiry(k, NEAR_WRAP)
    near(t, 400)
    eq(due, [2])
    k.lock(2)
    t, due = _expiry(k, NEAR_WRAP)
    near(t, 1000)
    eq(due, [1])


def test_locks_unit_queue_and_stagger():
    k = Locks(5, [1, 2, 3, 4], pulse=False, max_energised=2, stagger_ms=60)
    ok(k.unlock(1, 5000, 0, k.plan_unlock(1, 0)))
    eq(k.plan_unlock(2, 10), False)  # too soon after slot 1
    k.unlock(2, 5000, 10, False)
    eq(k.queue, [2])
    eq(k.next_due(10), 60)
    eq(k.next_start(59), None)
    eq(k.next_start(60), 2)
    k.started(2, 60)
    eq(k.energised, 2)
    k.unlock(3, 5000, 200, k.plan_unlock(3, 200))
    eq(k.queue, [3])
    eq(k.next_start(1000), None)  # two on already
    ok(k.lock(1))
    eq(k.next_start(1000), 3)


def test_locks_unit_rearm_does_not_change_the_output():
    k = Locks(3, [1, 2], pulse=True, max_on_ms=500)
    k.unlock(1, 1000, 0, k.plan_unlock(1, 0))
    k.stopped(1)
    eq(k.plan_unlock(1, 800), False)  # writes "off" again, proving the output, no pulse
    eq(k.unlock(1, 1000, 800, False), False)  # not a new release
    eq(k.queue, [])
    t, due = _expiry(k, 800)
    near(t, 1000)
    eq(due, [1])


def test_board_limits_reach_core():
    h = Host(board(mode="pulse", max_on_ms=250, max_energised=3, stagger_ms=20))
    locks = h.core.cabinet.locks
    eq((locks.pulse, locks.max_on_ms, locks.max_energised, locks.stagger_ms), (True, 250, 3, 20))


if __name__ == "__main__":
    mptest.main(globals())
