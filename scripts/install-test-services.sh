#!/usr/bin/env bash
# Installs what the test suite talks to besides Python packages: Debian's Chromium
# for the browser tests, and Azurite (Microsoft's Azure Blob emulator, from npm)
# for the Azure tests. (fake-gcs-server, for the GCS tests, comes in a Python wheel
# of the `dev` extra.) Idempotent and quick when everything is present; run by
# `make test` before any test starts (tests never install anything themselves).
set -euo pipefail
cd "$(dirname "$0")/.."

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

# Azurite, into .cache/azurite (ignored by git); tests/conftest.py starts it.
AZURITE_VERSION=3.35.0
AZURITE=.cache/azurite/node_modules/.bin/azurite-blob
if [ ! -x "$AZURITE" ] || ! grep -q "\"version\": \"$AZURITE_VERSION\"" \
    .cache/azurite/node_modules/azurite/package.json 2>/dev/null; then
  if command -v npm >/dev/null; then
    echo "installing Azurite $AZURITE_VERSION for the Azure tests (npm)..."
    mkdir -p .cache/azurite
    npm install --prefix .cache/azurite --no-audit --no-fund --silent "azurite@$AZURITE_VERSION"
  else
    echo "warning: no npm: the Azure tests will skip (or fail under CI); install" \
         "Node.js and npm, then run make services" >&2
  fi
fi
