#!/usr/bin/env bash
# End-to-end tests of `autoassist serve`: the real binary, a real WebSocket
# client (the npm package ws), node's built-in test runner.
#   tests/e2e/run.sh path/to/autoassist
# Installs the pinned npm dependencies (package-lock.json) when
# node_modules is missing. ctest runs this as e2e_server.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 path/to/autoassist" >&2
  exit 2
fi
bin=$(realpath "$1")
cd "$(dirname "$0")"
if [ ! -d node_modules/ws ]; then
  npm ci --no-audit --no-fund
fi
# One file at a time where node can be told so (20.10+): the timing tests
# (rate limit, idle timeout, TTL) get the machine to themselves.
conc=()
if node --help 2>/dev/null | grep -q -- '--test-concurrency'; then
  conc=(--test-concurrency=1)
fi
AUTOASSIST_BIN="$bin" exec node --test "${conc[@]}" ./*.test.js
