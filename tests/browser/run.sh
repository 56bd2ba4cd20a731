#!/usr/bin/env bash
# The widget's browser tests: run.sh BIN [SCREENSHOT_DIR]
#   BIN             the autoassist binary to serve with
#   SCREENSHOT_DIR  where the screenshots go (default: a temporary directory)
# Installs playwright-core (package-lock.json) on first use; needs Debian's
# chromium at /usr/bin/chromium and redis-server (make deps installs both).
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 1 ]; then
  echo "usage: $0 BIN [SCREENSHOT_DIR]" >&2
  exit 2
fi
AUTOASSIST_BIN=$(realpath "$1")
export AUTOASSIST_BIN
if [ $# -ge 2 ]; then
  mkdir -p "$2"
  AUTOASSIST_SCREENSHOTS=$(realpath "$2")
  export AUTOASSIST_SCREENSHOTS
fi
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-concurrency=1 --test-timeout=120000 widget.test.js
