"""The board file (board.json): one cabinet controller's wiring, as firmware/BOARD.md defines it.

parse() checks everything at start-up and says exactly what is wrong: a wiring mistake must
stop the firmware before any output is driven, not surface later as a lock that never opens.
Unknown keys are errors too (a misspelt "buzzer" would otherwise silently mean no buzzer);
keys starting with "_" are comments and ignored.

A pin is kept as one small integer, code(expander, number, active_low), so that a 255-slot
board costs list slots rather than a tuple object per pin; unpack() gives the tuple back:
expander GPIO (-1) for an ESP32 GPIO, else the index into `expanders`; number the GPIO or the
expander pin 0..15 (8..15 = GPB0..7); active_low a bool.
"""

import json

GPIO = -1
MAX_SLOTS = 255
_GPIOS = set(range(0, 20)) | {21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39}
_STRAPPING = (0, 2, 5, 12, 15)


def code(expander, number, active_low):
    """One pin as an int: bits 8.. expander + 1 (0 for a GPIO), bits 1..7 number, bit 0 "!"."""
    return ((expander + 1) << 8) | (number << 1) | (1 if active_low else 0)


def unpack(pin_code):
    """(expander, number, active_low) of a pin code."""
    return (pin_code >> 8) - 1, (pin_code >> 1) & 0x7F, pin_code & 1 == 1


class BoardError(ValueError):
    """The board file is unusable; the message says where and why."""


class Board:
    """A checked board file. Per-slot lists are indexed by slot, 0..slots (0: shared door)."""

    def __init__(self):
        self.name = ""
        self.kind = "per_slot"
        self.shared = False  # a shared door (slot 0)
        self.slots = 0
        self.link = {"type": "usb"}
        self.i2c = None  # {"id", "scl", "sda", "freq"} or None
        self.expanders = []  # I2C addresses
        self.mode = "hold"
        self.pulse = False
        self.max_on_ms = 0
        self.max_energised = 0  # 0: no limit
        self.stagger_ms = 0
        self.keys = []  # pin code per slot, None at 0
        self.doors = []  # door sensor pin per slot or None (slot 0: the shared door's)
        self.locks = []  # lock output pin per slot or None (slot 0: the shared door's)
        self.buzzer = None
        self.wdt_ms = 8000

    @property
    def lockable(self):
        """The slots that have a lock."""
        return [s for s in range(self.slots + 1) if self.locks[s] is not None]


def _fail(where, why):
    raise BoardError("board.json: %s: %s" % (where, why) if where else "board.json: " + why)


def _known(obj, where, names):
    if type(obj) is not dict:
        _fail(where, "expected an object {...}")
    for name in obj:
        if name not in names and not (type(name) is str and name.startswith("_")):
            _fail(where, "unknown key %r (known: %s)" % (name, ", ".join(names)))


def _int(obj, name, where, low, high, default=None):
    value = obj.get(name, default)
    if value is None:
        _fail(where, "%s is required" % name)
    if type(value) is not int or not low <= value <= high:
        _fail(where, "%s must be an integer %d..%d, not %r" % (name, low, high, value))
    return value


def pin(spec, where):
    """Parse "gpio:N", "xK.P", each with an optional leading "!" (active-low)."""
    if type(spec) is not str:
        _fail(where, 'a pin is a string like "gpio:25", "x0.3" or "!x1.12", not %r' % (spec,))
    text = spec
    low = text.startswith("!")
    if low:
        text = text[1:]
    try:
        if text.startswith("gpio:"):
            number = int(text[5:])
            if text[5:].isdigit() and 0 <= number <= 39:
                return code(GPIO, number, low)
        elif text.startswith("x") and text.count(".") == 1:
            k, p = text[1:].split(".")
            if k.isdigit() and p.isdigit() and int(p) <= 15:
                return code(int(k), int(p), low)
    except ValueError:
        pass
    _fail(
        where,
        'bad pin %r: use "gpio:N" (N 0..39) or "xK.P" (P 0..15), "!" first for active-low' % spec,
    )


def parse(data):
    """A Board from the decoded board file (a dict), or BoardError."""
    b = Board()
    _known(
        data,
        "",
        (
            "name",
            "kind",
            "slots",
            "link",
            "i2c",
            "expanders",
            "lock",
            "slot",
            "door",
            "buzzer",
            "wdt_ms",
        ),
    )
    b.name = data.get("name")
    if type(b.name) is not str or not b.name:
        _fail("name", "a non-empty string is required")
    b.kind = data.get("kind")
    if b.kind not in ("per_slot", "shared_door"):
        _fail("kind", 'must be "per_slot" or "shared_door", not %r' % (b.kind,))
    b.shared = b.kind == "shared_door"
    n = b.slots = _int(data, "slots", "", 1, MAX_SLOTS)
    _link(b, data.get("link"))
    _lock(b, data.get("lock"))
    b.wdt_ms = _int(data, "wdt_ms", "", 1000, 60000, 8000)
    b.keys = [None] * (n + 1)
    b.doors = [None] * (n + 1)
    b.locks = [None] * (n + 1)
    entries = data.get("slot")
    if type(entries) is not list or len(entries) != n:
        _fail("slot", "must be a list of exactly %d entries (slots), slot 1 first" % n)
    for s in range(1, n + 1):
        where = "slot %d" % s
        entry = entries[s - 1]
        _known(entry, where, ("key", "lock", "door"))
        if "key" not in entry:
            _fail(where, "key is required")
        b.keys[s] = pin(entry["key"], where + ": key")
        if b.shared and ("lock" in entry or "door" in entry):
            _fail(
                where,
                'a shared_door cabinet\'s slots have only a key (the lock and sensor go in "door")',
            )
        if not b.shared:
            if "lock" not in entry:
                _fail(where, "lock is required in a per_slot cabinet")
            b.locks[s] = pin(entry["lock"], where + ": lock")
            if "door" in entry:
                b.doors[s] = pin(entry["door"], where + ": door")
    door = data.get("door")
    if b.shared:
        _known(door, "door", ("lock", "sensor"))
        if "lock" not in door:
            _fail("door", "lock is required in a shared_door cabinet")
        b.locks[0] = pin(door["lock"], "door: lock")
        if "sensor" in door:
            b.doors[0] = pin(door["sensor"], "door: sensor")
    elif door is not None:
        _fail(
            "door",
            'only a shared_door cabinet has one; per-slot door sensors go in each slot\'s "door"',
        )
    if "buzzer" in data:
        b.buzzer = pin(data["buzzer"], "buzzer")
    _pins(b, data)
    return b


def _link(b, link):
    if link is None:
        _fail("link", 'required: {"type": "usb"} or {"type": "uart", "id": 1, "tx": 17, "rx": 16}')
    _known(link, "link", ("type", "id", "tx", "rx", "baud"))
    kind = link.get("type")
    if kind == "usb":
        if len([k for k in link if not k.startswith("_")]) != 1:
            _fail("link", "a usb link takes no other keys")
        b.link = {"type": "usb"}
    elif kind == "uart":
        b.link = {
            "type": "uart",
            "id": _int(link, "id", "link", 0, 2),
            "tx": _int(link, "tx", "link", 0, 39),
            "rx": _int(link, "rx", "link", 0, 39),
            "baud": _int(link, "baud", "link", 1200, 2000000, 115200),
        }
    else:
        _fail("link", 'type must be "usb" or "uart", not %r' % (kind,))


def _lock(b, lock):
    if lock is None:
        _fail(
            "lock",
            'required, e.g. {"mode": "pulse", "max_on_ms": 500, "max_energised": 2, "stagger_ms": 60}',
        )
    _known(lock, "lock", ("mode", "max_on_ms", "max_energised", "stagger_ms"))
    b.mode = lock.get("mode")
    if b.mode not in ("pulse", "hold"):
        _fail("lock", 'mode must be "pulse" or "hold", not %r' % (b.mode,))
    b.pulse = b.mode == "pulse"
    if b.pulse:
        b.max_on_ms = _int(lock, "max_on_ms", "lock", 1, 60000)
    elif "max_on_ms" in lock:
        _fail("lock", "max_on_ms belongs to pulse mode; a hold lock is energised while released")
    b.max_energised = _int(lock, "max_energised", "lock", 1, MAX_SLOTS + 1, MAX_SLOTS + 1)
    b.stagger_ms = _int(lock, "stagger_ms", "lock", 0, 10000, 0)


def _gpio_rules(where, number, output):
    """The classic ESP32's pin rules (the chip the ESP32_GENERIC build and docs/hardware.md use).
    `output`: False for an input, "bus" for I2C/UART TX, True for a lock or buzzer output."""
    if number not in _GPIOS:
        _fail(where, "GPIO%d does not exist on an ESP32" % number)
    if 6 <= number <= 11:
        _fail(where, "GPIO%d belongs to the module's flash" % number)
    if output and number >= 34:
        _fail(where, "GPIO%d is input-only and cannot drive an output" % number)
    if output is True and number in _STRAPPING:
        _fail(where, "GPIO%d is a strapping pin: an output there can flicker at boot" % number)


def _pins(b, data):
    """Expander references, ESP32 pin rules, and no pin used twice (whatever its "!")."""
    pins = [("slot %d: key" % s, b.keys[s], False) for s in range(1, b.slots + 1)]
    for s in range(b.slots + 1):
        pins.append(("slot %d: door" % s if s else "door: sensor", b.doors[s], False))
        pins.append(("slot %d: lock" % s if s else "door: lock", b.locks[s], True))
    pins.append(("buzzer", b.buzzer, True))
    if b.link["type"] == "uart":
        pins += [("link: tx", code(GPIO, b.link["tx"], False), "bus")]
        pins += [("link: rx", code(GPIO, b.link["rx"], False), False)]
    else:  # UART0, the serial console a usb link runs on
        pins += [("the usb link (console TX)", code(GPIO, 1, False), None)]
        pins += [("the usb link (console RX)", code(GPIO, 3, False), None)]
    addresses = data.get("expanders", [])
    if type(addresses) is not list:
        _fail("expanders", "must be a list of MCP23017 addresses 32..39")
    for a in addresses:
        if type(a) is not int or not 0x20 <= a <= 0x27:
            _fail("expanders", "%r is not an MCP23017 address (32..39, i.e. 0x20..0x27)" % (a,))
        if addresses.count(a) > 1:
            _fail("expanders", "address %d is listed twice" % a)
    b.expanders = list(addresses)
    i2c = data.get("i2c")
    if i2c is not None:
        _known(i2c, "i2c", ("id", "scl", "sda", "freq"))
        b.i2c = {
            "id": _int(i2c, "id", "i2c", 0, 1),
            "scl": _int(i2c, "scl", "i2c", 0, 39),
            "sda": _int(i2c, "sda", "i2c", 0, 39),
            "freq": _int(i2c, "freq", "i2c", 10000, 1000000, 400000),
        }
        pins += [("i2c: scl", code(GPIO, b.i2c["scl"], False), "bus")]
        pins += [("i2c: sda", code(GPIO, b.i2c["sda"], False), "bus")]
    elif addresses:
        _fail("i2c", "required when expanders are listed")
    used = {}
    for where, p, output in pins:
        if p is None:
            continue
        exp, number, _ = unpack(p)
        if exp == GPIO:
            if output is not None:
                _gpio_rules(where, number, output)
        elif exp >= len(addresses):
            _fail(where, 'expander x%d is not in "expanders" (%d listed)' % (exp, len(addresses)))
        elif not output and number in (7, 15):
            _fail(where, "GPA7/GPB7 (xK.7, xK.15) must not be inputs: it can upset the I2C bus")
        at = p >> 1  # the pin, whatever its "!"
        if at in used:
            _fail(where, "pin already used by %s" % used[at])
        used[at] = where


def load(path="board.json"):
    """Read and check a board file."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise BoardError("%s: cannot read it (%s)" % (path, e)) from None
    except ValueError as e:
        raise BoardError("%s: not valid JSON (%s)" % (path, e)) from None
    return parse(data)
