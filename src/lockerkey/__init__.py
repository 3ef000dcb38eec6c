"""lockerkey: the software of a locker-key dispenser kiosk."""

__version__ = "0.1.0"
