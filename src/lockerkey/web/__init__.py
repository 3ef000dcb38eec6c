"""The kiosk page, its HTTP/WebSocket API and the staff console, served by the daemon."""
