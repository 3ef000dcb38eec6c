"""The controller side of the cabinet link (protocol v1) as a hardware-free state machine.

The caller passes the time (ticks ms) into every call and writes the returned frames to the
line; the hardware is reached only through `io` (see hw.BoardIO for the interface), by way
of cabinet.Cabinet. On the wire it behaves like the project's reference controller
(src/lockerkey/cabinet/controller.py): the same replies, the same order of checks, the same
events. What the reference has no counterpart for is the hardware: outputs that can fail
(hw_fault, `fault` events, retries), pulse locks, and the limit on outputs energised at once.
"""

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from lk import FIRMWARE
from lk.board import parse
from lk.cabinet import BEEPS, Cabinet
from lk.frame import FrameError, decode, encode
from lk.replies import Replies
from lk.ticks import ticks_add, ticks_diff

try:
    from gc import mem_free as _mem_free
except ImportError:  # CPython: no free-heap figure, and the field is left out
    _mem_free = None

PROTO = const(1)
MAX_ID = 2147483647  # 2**31 - 1 (no const(): beyond a 32-bit port's small ints)
HEARTBEAT_MS = const(1000)
FAIL_SECURE_MS = const(10000)
MAX_UNLOCK_MS = const(60000)


class _Refused(Exception):
    """A request answered with an error code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Core:
    def __init__(self, board, io, rand32, fw=None):
        """`board`: a board.Board (or the board file's dict); `io`: the hardware (keys(),
        doors(), drive(), all_off(), buzz(), optional sample() and faults()); `rand32()`: a
        random 32-bit integer; `fw`: the hello/boot `fw` text (default: version + board name)."""
        if type(board) is dict:
            board = parse(board)
        self.board = board
        self.io = io
        self._rand32 = rand32
        self.fw = fw if fw else FIRMWARE + " " + board.name
        self.slots = board.slots
        self.shared = board.shared
        self.cabinet = Cabinet(board, io, self._event)
        self.replies = Replies()
        self.boot = ""
        self.seq = 0
        self.frames_received = 0  # frames that passed the framing checks
        self.dropped = {}  # lines dropped, by reason
        self.powered = False
        self._events = []

    # ---- power and time ---------------------------------------------------------------------

    def power_up(self, now):
        """Power-up or reset: outputs off (first of all), new boot id, seq 0, reply memory
        empty, sensors as they read now. Returns the `boot` event."""
        self.cabinet.power_up()
        previous = self.boot
        while self.boot == previous:  # a reset must be visible to the host
            self.boot = "%08x" % (self._rand32() & 0xFFFFFFFF)
        self.seq = 0
        self.replies.clear()
        self._up = 0  # uptime, summed from tick differences so that it never wraps
        self._last = now
        self._hb_at = ticks_add(now, HEARTBEAT_MS)
        self._rx_at = now  # the fail-secure timer starts at power-up
        self._fs_done = False
        self.powered = True
        return [encode([("ev", "boot"), ("seq", 0)] + self._identity())]

    def poll(self, now):
        """Everything due by `now`: sensor reports and io faults, relocks, fail-secure, pulse
        ends and queued outputs, the buzzer; the heartbeat last, so its seq is current."""
        if not self.powered:
            raise RuntimeError("power_up first")
        gone = ticks_diff(now, self._last)
        if gone > 0:
            self._up += gone
            self._last = now
        self._events = out = []
        cabinet = self.cabinet
        cabinet.inputs(now)
        # Strictly more than 10 s of ticks: 10 s of real time whatever the tick's phase.
        if not self._fs_done and ticks_diff(now, self._rx_at) > FAIL_SECURE_MS:
            self._fs_done = True  # once per silence
            cabinet.lock_all(now)
        cabinet.timers(now)
        late = ticks_diff(now, self._hb_at)
        if late >= 0:
            # One heartbeat however late the poll is: it says "alive", it does not count time.
            out.append(encode([("ev", "hb"), ("seq", self.seq), ("up", self._up)]))
            self._hb_at = ticks_add(self._hb_at, HEARTBEAT_MS * (late // HEARTBEAT_MS + 1))
        return out

    def next_deadline(self, now):
        """The time by which poll must run again, in `now`'s terms (wait ticks_diff(it, now)
        ms). Input changes not sampled yet are unknown here: whoever changes an input polls."""
        times = [self._hb_at, self.cabinet.next_due(now)]
        if not self._fs_done:
            times.append(ticks_add(self._rx_at, FAIL_SECURE_MS + 1))
        return ticks_add(now, min(max(0, ticks_diff(t, now)) for t in times if t is not None))

    # ---- the line ---------------------------------------------------------------------------

    def receive(self, line, now):
        """One received line without its `\\n`: what falls due first, then the reply and the
        events the request caused."""
        out = self.poll(now)
        try:
            message = decode(line)
        except FrameError as e:
            self.drop(e.reason)
            return out
        if message is None:
            return out  # an empty line: a resync, not an error
        self.frames_received += 1
        self._rx_at = now
        self._fs_done = False
        out.extend(self._request(message, now))
        return out

    def drop(self, reason):
        """Count a dropped line (also one the caller dropped itself, e.g. too_long)."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def _request(self, message, now):
        rid = message.get("id")
        if type(rid) is not int or not 1 <= rid <= MAX_ID:
            try:
                return [encode([("id", rid), ("ok", False), ("err", "bad_arg")])]
            except ValueError:  # an id nested too deeply to write back
                return [encode([("id", None), ("ok", False), ("err", "bad_arg")])]
        cmd = message.get("cmd")
        if type(cmd) is not str:
            return [encode([("id", rid), ("ok", False), ("err", "unknown_cmd")])]
        stored = self.replies.get(rid)
        if stored is not None:
            return [stored]  # a retry: answered again, not executed again
        self._events = []
        try:
            reply = encode([("id", rid), ("ok", True)] + self._execute(cmd, message, now))
        except _Refused as refused:
            reply = encode([("id", rid), ("ok", False), ("err", refused.code)])
        if cmd == "hello":
            self.replies.clear()  # only an executed hello gets here; a retry was answered above
        self.replies.put(rid, reply)
        return [reply] + self._events

    def _execute(self, cmd, message, now):
        if cmd == "hello":
            return self._identity()
        if cmd == "status":
            keys, doors, locks = self.cabinet.status()
            return [
                ("keys", keys),
                ("doors", doors),
                ("locks", locks),
                ("seq", self.seq),
                ("boot", self.boot),
            ]
        if cmd == "ping":
            return []
        if cmd == "beep":
            pattern = message.get("pattern")
            if type(pattern) is not str or pattern not in BEEPS:
                raise _Refused("bad_arg")
            self.cabinet.beep(pattern, now)
            return []
        if cmd not in ("unlock", "lock", "lock_all"):
            raise _Refused("unknown_cmd")
        # The protocol's order of checks: boot, slot, ms, then the hardware.
        if message.get("boot") != self.boot:
            raise _Refused("stale_boot")
        if cmd == "lock_all":
            if not self.cabinet.lock_all(now):
                raise _Refused("hw_fault")  # the other locks did lock
            return []
        slot = message.get("slot")
        if type(slot) is not int:
            raise _Refused("bad_arg")
        if not 0 <= slot <= self.slots or not self.cabinet.has_lock[slot]:
            raise _Refused("bad_slot")
        if cmd == "lock":
            if not self.cabinet.lock(slot, now):
                raise _Refused("hw_fault")
            return []
        ms = message.get("ms")
        if type(ms) is not int or not 1 <= ms <= MAX_UNLOCK_MS:
            raise _Refused("bad_arg")
        if not self.cabinet.unlock(slot, ms, now):
            raise _Refused("hw_fault")
        return []

    def _identity(self):
        fields = [
            ("fw", self.fw),
            ("proto", PROTO),
            ("slots", self.slots),
            ("boot", self.boot),
            ("main", self.shared),
        ]
        if _mem_free is not None:
            fields.append(("heap", _mem_free()))
        return fields

    def _event(self, name, fields):
        """Numbers and encodes one event (not hb) into the frames of the current call."""
        self.seq += 1
        self._events.append(encode([("ev", name), ("seq", self.seq)] + fields))

    # ---- state ------------------------------------------------------------------------------

    def status(self):
        """(keys, doors, locks): the `status` strings, N+1 characters, char 0 the shared door."""
        return self.cabinet.status()
