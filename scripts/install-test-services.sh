#!/usr/bin/env bash
# Installs what the test suite talks to besides Python packages: Debian's Chromium
# for the browser tests. Idempotent and quick when everything is present; run by
# `make test` before any test starts (tests never install anything themselves).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser tests (apt-get)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: no $CHROMIUM and not root with apt-get: the browser tests will skip" \
         "(or fail under CI); install Debian's chromium package" >&2
  fi
fi
