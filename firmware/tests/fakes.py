# Test doubles for the firmware's hardware-free modules, in plain MicroPython: a board file
# built in code, a fake `io` (the interface hw.BoardIO gives core), and a host that talks to
# a Core in frames.
import mptest
from lk import HwError
from lk.core import Core
from lk.frame import decode, encode
from lk.ticks import ticks_add, ticks_diff

BOOT_RAND = 0x1A2B3C4D


def board(slots=4, kind="per_slot", mode="hold", max_on_ms=500, max_energised=None,
          stagger_ms=None, doors=False, buzzer=False, name="test"):
    """A board-file dict: keys on expander 0, locks on expander 1, doors on expander 2."""
    lock = {"mode": mode}
    if mode == "pulse":
        lock["max_on_ms"] = max_on_ms
    if max_energised is not None:
        lock["max_energised"] = max_energised
    if stagger_ms is not None:
        lock["stagger_ms"] = stagger_ms
    entries = []
    for s in range(slots):
        entry = {"key": "!x0.%d" % s}
        if kind == "per_slot":
            entry["lock"] = "x1.%d" % s
            if doors:
                entry["door"] = "!x2.%d" % s
        entries.append(entry)
    data = {
        "name": name,
        "kind": kind,
        "slots": slots,
        "link": {"type": "usb"},
        "i2c": {"id": 0, "scl": 22, "sda": 21, "freq": 400000},
        "expanders": [32, 33, 34],
        "lock": lock,
        "slot": entries,
    }
    if kind == "shared_door":
        data["door"] = {"lock": "gpio:25"}
        if doors:
            data["door"]["sensor"] = "!gpio:26"
    if buzzer:
        data["buzzer"] = "gpio:27"
    return data


class FakeIO:
    """Inputs set by the test; every output write recorded as (now, slot, energised)."""

    def __init__(self, slots, door_slots=(), clock=None):
        self.key = [False] * (slots + 1)
        self.door = {}
        for s in door_slots:
            self.door[s] = False
        self.on = {}  # slot -> bool: the output as last written
        self.writes = []
        self.failing = set()  # slots whose drive() raises HwError
        self.clock = clock  # a one-item list holding "now", for the record
        self.buzzes = []
        self.pending_faults = []

    def keys(self):
        return self.key

    def doors(self):
        return self.door

    def drive(self, slot, energised):
        if slot in self.failing:
            raise HwError(slot)
        self.on[slot] = bool(energised)
        self.writes.append((self.clock[0] if self.clock else None, slot, bool(energised)))

    def all_off(self):
        for s in self.on:
            self.on[s] = False

    def buzz(self, on):
        self.buzzes.append(bool(on))

    def faults(self):
        pending, self.pending_faults = self.pending_faults, []
        return pending

    def energised(self):
        return sorted(s for s in self.on if self.on[s])


def _decode_all(frames):
    out = []
    for f in frames:
        if f[-1:] != b"\n":
            raise AssertionError("a frame without its line end: %r" % (f,))
        out.append(decode(f[:-1]))
    return out


class Host:
    """Drives a Core as the kiosk host would: frames in, decoded replies and events out.

    `now` is the ticks time of the next call; advance it with step()/to(). Events and
    replies are collected in `seen` (decoded dicts) as well as returned."""

    def __init__(self, data=None, now=0, doors=False, **kw):
        if data is None:
            data = board(doors=doors, **kw)
        self.data = data
        self.clock = [now]
        door_slots = []
        if doors:
            door_slots = [0] if data["kind"] == "shared_door" else list(range(1, data["slots"] + 1))
        self.io = FakeIO(data["slots"], door_slots, self.clock)
        self._rand = BOOT_RAND - 1
        self.core = Core(data, self.io, self._rand32, "fw-test")
        self.seen = []
        self.next_id = 100
        self.boot_event = self._keep(self.core.power_up(now))[0]
        self.boot = self.boot_event["boot"]

    def _rand32(self):
        # A new value per call: power_up draws until the boot id differs from the last one.
        self._rand += 1
        return self._rand

    @property
    def now(self):
        return self.clock[0]

    def _keep(self, frames):
        msgs = _decode_all(frames)
        self.seen.extend(msgs)
        return msgs

    def poll(self):
        return self._keep(self.core.poll(self.now))

    def step(self, ms, every=None):
        """Advance the clock by `ms`, polling every `every` ms on the way (default: once at
        the end); returns the messages produced."""
        if ms == 0:
            return self.poll()
        out = []
        inc = every or ms
        done = 0
        while done < ms:
            d = min(inc, ms - done)
            done += d
            self.clock[0] = ticks_add(self.clock[0], d)
            out.extend(self.poll())
        return out

    def send_line(self, line):
        """One raw line (bytes, without its \\n)."""
        return self._keep(self.core.receive(line, self.now))

    def request(self, cmd, rid=None, with_boot=True, **args):
        """Send one request; returns (reply, other messages)."""
        if rid is None:
            self.next_id += 1
            rid = self.next_id
        pairs = [("id", rid), ("cmd", cmd)]
        for k in sorted(args):
            pairs.append((k, args[k]))
        if with_boot and cmd in ("unlock", "lock", "lock_all"):
            pairs.append(("boot", self.boot))
        msgs = self.send_line(encode(pairs)[:-1])
        replies = [m for m in msgs if "id" in m and m["id"] == rid]
        if len(replies) != 1:
            raise AssertionError("expected one reply to id %r, got %r" % (rid, msgs))
        return replies[0], [m for m in msgs if m is not replies[0]]

    def ok(self, cmd, **args):
        reply, _ = self.request(cmd, **args)
        if reply.get("ok") is not True:
            raise AssertionError("%s %r failed: %r" % (cmd, args, reply))
        return reply

    def locks(self):
        return self.core.status()[2]

    def events(self, name, since=0):
        return [m for m in self.seen[since:] if m.get("ev") == name]


def elapsed(a, b):
    return ticks_diff(b, a)


def near(got, want, msg=""):
    """A timer fell due at `want` ms, or one tick later (never earlier): the firmware may
    wait strictly more than a duration's ticks so that at least that much real time passes
    whatever the phase of its 1 ms tick."""
    if got is None or not (want <= got <= want + 1):
        raise mptest.Failure("%r ms, not %d (or %d)%s" % (got, want, want + 1,
                                                         (": " + msg) if msg else ""))


def when(h, pred, limit=20000):
    """Step `h` 1 ms at a time until pred(messages of that step) is true; the ms taken."""
    start = h.now
    for _ in range(limit):
        if pred(h.step(1)):
            return ticks_diff(h.now, start)
    return None


def relocked(slot):
    """A predicate for when(): slot's lock event with locked true."""
    return lambda msgs: any(
        m.get("ev") == "lock" and m["slot"] == slot and m["locked"] for m in msgs
    )
