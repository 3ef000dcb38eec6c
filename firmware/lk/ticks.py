"""Wrapping millisecond ticks: MicroPython's own functions, or a CPython stand-in.

Every time in the firmware is a ticks value: it wraps at 2**30, so times are only ever
compared through ticks_diff (valid while they are less than 2**29 ms, about 6 days, apart).
The stand-in wraps the same way so that CPython tests exercise the same arithmetic.
"""

try:
    from time import sleep_ms, ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython
    import time as _time

    PERIOD = 1 << 30
    _MASK = PERIOD - 1
    _HALF = PERIOD >> 1

    def ticks_ms():
        return (_time.monotonic_ns() // 1000000) & _MASK

    def ticks_add(ticks, delta):
        return (ticks + delta) & _MASK

    def ticks_diff(end, start):
        """end - start as a signed number in [-2**29, 2**29)."""
        return ((end - start + _HALF) & _MASK) - _HALF

    def sleep_ms(ms):
        if ms > 0:
            _time.sleep(ms / 1000)
