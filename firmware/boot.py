# Runs before main.py. ESP-IDF's own log lines ("W (1234) ...") go to UART0, which on many
# boards is the USB link to the host: silence them so they cannot land inside a frame.
try:
    import esp

    esp.osdebug(None)
except (ImportError, AttributeError):
    pass
