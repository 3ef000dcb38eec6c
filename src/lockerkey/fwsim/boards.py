"""Board files for tests and trials of the firmware on simulated pins (firmware/BOARD.md).

``sample_board`` wires a small cabinet so that both of the firmware's I/O paths run in either
kind, with both polarities:

- per_slot: keys (active-low, pull-ups) and door sensors (active-high) on MCP23017 expanders,
  locks on GPIOs (every other one active-low), pulse solenoids, a buzzer on an expander pin
  (GPA7, an output);
- shared_door: keys on GPIOs (every other one active-low), the door's lock (hold mode) and its
  sensor (active-low) on an expander.
"""

from __future__ import annotations

from typing import Any

# Output-capable ESP32 GPIOs: not the I²C pins (21, 22), not the strapping pins (0, 2, 5, 12,
# 15), not the flash (6..11).
GPIOS = (13, 14, 16, 17, 18, 19, 23, 25, 26, 27, 32, 33, 4)
I2C = {"id": 0, "scl": 22, "sda": 21, "freq": 400000}
FIRST_EXPANDER = 0x20
MAX_TEST_SLOTS = len(GPIOS)


def sample_board(slots: int, shared_door: bool, door_sensors: bool = False) -> dict[str, Any]:
    """A board dict for a cabinet of ``slots`` (1..13); door sensors per slot if asked."""
    if not 1 <= slots <= MAX_TEST_SLOTS:
        raise ValueError(f"test boards have 1..{MAX_TEST_SLOTS} slots, not {slots}")
    if shared_door:
        return _shared(slots)
    return _per_slot(slots, door_sensors)


def _per_slot(slots: int, doors: bool) -> dict[str, Any]:
    # Seven slots per expander: GPA7 and GPB7 must not be inputs (MCP23017 errata).
    count = (slots + 6) // 7
    entries: list[dict[str, str]] = []
    for i in range(slots):
        entry = {
            "key": f"!x{i // 7}.{i % 7}",
            "lock": f"{'!' if i % 2 else ''}gpio:{GPIOS[i]}",
        }
        if doors:
            entry["door"] = f"x{i // 7}.{8 + i % 7}"
        entries.append(entry)
    return {
        "name": f"test per_slot {slots}{' with doors' if doors else ''}",
        "kind": "per_slot",
        "slots": slots,
        "link": {"type": "usb"},
        "i2c": I2C,
        "expanders": [FIRST_EXPANDER + k for k in range(count)],
        "lock": {"mode": "pulse", "max_on_ms": 300, "max_energised": 2, "stagger_ms": 40},
        "slot": entries,
        "buzzer": "x0.7",
        "wdt_ms": 8000,
    }


def _shared(slots: int) -> dict[str, Any]:
    return {
        "name": f"test shared_door {slots}",
        "kind": "shared_door",
        "slots": slots,
        "link": {"type": "usb"},
        "i2c": I2C,
        "expanders": [FIRST_EXPANDER + 7],
        "lock": {"mode": "hold", "max_energised": 1, "stagger_ms": 60},
        "slot": [{"key": f"{'!' if i % 2 else ''}gpio:{GPIOS[i]}"} for i in range(slots)],
        "door": {"lock": "x0.0", "sensor": "!x0.8"},
        "wdt_ms": 8000,
    }
