#!/bin/sh
# Start Chromium full-screen on the kiosk page once lockerkey answers.
# Raspberry Pi OS (Bookworm, Wayland/labwc): add this line to ~/.config/labwc/autostart
#     /opt/lockerkey/deploy/kiosk-browser.sh &
# (X11 / older releases: ~/.config/lxsession/LXDE-pi/autostart, as "@/opt/lockerkey/...").
set -eu
URL=${LOCKERKEY_URL:-http://127.0.0.1:8000/}

# Older Raspberry Pi OS names the browser chromium-browser.
BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ]; then
    echo "kiosk-browser: chromium not found: sudo apt install chromium fonts-noto-cjk" >&2
    exit 1
fi

# The daemon may still be starting (or restarting after an update): wait for its page, so
# the screen never shows Chromium's own error page. wget is part of Raspberry Pi OS.
i=0
until wget -q -O /dev/null "${URL%/}/api/state"; do
    i=$((i + 1))
    [ "$i" -ge 120 ] && break  # after two minutes show the page anyway: it retries by itself
    sleep 1
done

# --incognito: nothing to "restore" after a power cut; the autoplay policy lets the page
# beep without a first touch; no pinch zoom or swipe-back on a public touchscreen.
exec "$BROWSER" \
    --kiosk --incognito --noerrdialogs --disable-infobars --no-first-run \
    --disable-session-crashed-bubble --disable-features=Translate,TouchpadOverscrollHistoryNavigation \
    --autoplay-policy=no-user-gesture-required --disable-pinch --overscroll-history-navigation=0 \
    --check-for-update-interval=31536000 --password-store=basic \
    "$URL"
