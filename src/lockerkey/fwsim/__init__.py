"""The real cabinet firmware (``firmware/lk/``, MicroPython) run under CPython on simulated pins.

``machine.py`` and ``mcp23017.py`` fake the chip; ``world.py`` and ``rules.py`` are the
cabinet around it; ``firmware.py`` imports the firmware; ``controller.py`` offers it to
``lockerkey simulate --firmware`` in place of the pure-Python ``Controller``.
"""
