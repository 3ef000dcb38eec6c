# The lockerkey cabinet firmware's entry point (MicroPython runs main.py after boot.py).
# Everything is in lk/; see README.md. To get the REPL instead (the console link ignores
# Ctrl-C), hold the BOOT button (GPIO0) while the board starts, or erase and reflash.
import lk.app

lk.app.main()
