#!/bin/sh
# Create .venv/ and install lockerkey into it, on a fresh Debian / Raspberry Pi OS machine
# that has only python3 and make. Usage: scripts/bootstrap.sh [EXTRAS]   (e.g. "test")
set -eu
PYTHON=${PYTHON:-python3}
EXTRAS=${1:-}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "bootstrap: need root to run: $*" >&2; exit 1; fi
}

# Debian splits venv and ensurepip out of python3: install python3-venv when it is missing.
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing python3-venv with apt-get"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    else
        echo "bootstrap: $PYTHON cannot create virtual environments (python3-venv missing)" >&2
        exit 1
    fi
fi

# The test extra needs python-evdev. PyPI has prebuilt wheels (evdev-binary) only for x86_64;
# elsewhere (a Raspberry Pi) pip builds it, which needs a C compiler and the headers.
if [ -n "$EXTRAS" ] && [ "$(uname -m)" != x86_64 ] && ! command -v cc >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing gcc and headers with apt-get (to build python-evdev)"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc python3-dev linux-libc-dev
    fi
fi

# The firmware's MicroPython tests run on Node.js with an npm package (the Makefile runs npm ci).
# Debian's own nodejs package comes without npm: add it when Node.js is here but npm is not.
if [ -n "$EXTRAS" ] && command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing npm with apt-get (for the firmware's MicroPython tests)"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm
    fi
fi

# The browser tests drive Debian's chromium (Playwright cannot download its own browsers here),
# and the kiosk's Korean text needs a CJK font to render as it will on the Pi.
if [ -n "$EXTRAS" ] && command -v apt-get >/dev/null 2>&1; then
    need=""
    command -v chromium >/dev/null 2>&1 || need=" chromium"
    fc-list :lang=ko 2>/dev/null | grep -q . || need="$need fonts-noto-cjk"
    if [ -n "$need" ]; then
        echo "bootstrap: installing$need with apt-get (for the browser tests)"
        as_root apt-get update -q
        # shellcheck disable=SC2086
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
if [ -n "$EXTRAS" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
else
    .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
