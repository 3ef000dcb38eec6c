"""Pure domain logic: the rental/return engine, rules and messages (no I/O, no clock)."""
