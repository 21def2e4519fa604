#!/usr/bin/env bash
# Runs `npm ci` when node_modules is missing or was installed from a different
# package.json / package-lock.json; otherwise does nothing. Used by dev.sh and test.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[node-deps] %s\n' "$*" >&2; }

STAMP=node_modules/.otp-deps-stamp
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1) node-$(node --version)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  log "node_modules is up to date"
  exit 0
fi

log "npm ci (node_modules missing or stale)"
npm ci --no-audit --no-fund
printf '%s\n' "$want" >"$STAMP"
