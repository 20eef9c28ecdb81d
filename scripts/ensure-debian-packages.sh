#!/usr/bin/env sh
# Debian packages the test stages run for real: libfaketime (the clock-and-zone check), Prometheus
# (the monitoring stage), podman with runc and mmdebstrap (the image stage). Idempotent: installs only
# what is missing, in one apt-get call, when run as root; otherwise says which stages will be skipped.
# Never fails the caller: each stage skips with its own reason when its tool is missing.
missing=""
need() { # need FILE PACKAGE
  [ -e "$1" ] || missing="$missing $2"
}
need /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 faketime
need /usr/bin/prometheus prometheus
need /usr/bin/promtool prometheus
need /usr/bin/podman podman
need /usr/sbin/runc runc
need /usr/bin/mmdebstrap mmdebstrap
need /usr/bin/newuidmap uidmap
need /usr/bin/fuse-overlayfs fuse-overlayfs
need /usr/bin/slirp4netns slirp4netns
missing=$(echo "$missing" | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/^ *//; s/ *$//')
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian-packages: installing $missing (apt-get install -y --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086  # one word per package
  if apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
    exit 0
  fi
  echo "ensure-debian-packages: apt-get could not install $missing: the stages that need them will be skipped"
else
  echo "ensure-debian-packages: missing $missing and cannot install here (needs root and apt-get):"
  echo "  the stages that need them will be skipped with the reason"
fi
exit 0
