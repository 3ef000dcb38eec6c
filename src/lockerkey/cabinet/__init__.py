"""Cabinet controllers: wire protocol, drivers and simulated cabinets."""
