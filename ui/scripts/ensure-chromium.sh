#!/usr/bin/env sh
# Debian's Chromium for the browser tests (playwright-core drives it; no test tool downloads a browser).
# Idempotent: does nothing when it is there; installs it with apt-get when run as root; otherwise says
# why the browser tests will be skipped. Never fails the caller.
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium for the browser tests (apt-get install -y chromium)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; then
    exit 0
  fi
  echo "ensure-chromium: apt-get could not install chromium: the browser tests will be skipped"
else
  echo "ensure-chromium: $CHROMIUM not found and cannot install it here (needs root and apt-get):"
  echo "  the browser tests will be skipped; install it with: sudo apt-get install -y chromium"
fi
exit 0
