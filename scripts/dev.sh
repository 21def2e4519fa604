#!/usr/bin/env bash
# Runs the worker locally with `wrangler dev`, fully offline and without a Cloudflare
# login: installs the build tools and node_modules if needed, builds the worker and
# serves it on 127.0.0.1.
#
#   ./scripts/dev.sh [--port N] [-- extra `wrangler dev` arguments]
#
# The port comes from --port, else $PORT, else 8787. KV, Durable Object and D1 data
# are kept locally in .wrangler/state (the insights database migrated first).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[dev] %s\n' "$*" >&2; }
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

PORT="${PORT:-8787}"
extra=()
while (($#)); do
  case "$1" in
    --port) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#--port=}"; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra+=("$@"); break ;;
    *) extra+=("$1"); shift ;;
  esac
done
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
  log "error: invalid port '$PORT'"
  exit 2
fi

bash scripts/install-tools.sh
bash scripts/node-deps.sh
bash scripts/build-worker.sh

# --- Local configuration ----------------------------------------------------------
if [[ ! -f .dev.vars ]]; then
  cp .dev.vars.example .dev.vars
  log "created .dev.vars from .dev.vars.example (local secrets; edit to taste)"
elif ! grep -q '^HASH_KEY=' .dev.vars; then
  # Added after .dev.vars files were first made: take the example's value.
  grep '^HASH_KEY=' .dev.vars.example >> .dev.vars
  log "added HASH_KEY from .dev.vars.example to .dev.vars"
fi

# Keep wrangler offline: no telemetry, no download of the Request.cf metadata.
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false

# The insights database (D1, local in .wrangler/state): its schema from migrations/.
log "applying the insights database's migrations (wrangler d1 migrations apply --local)"
node_modules/.bin/wrangler d1 migrations apply INSIGHTS_DB --local </dev/null >&2

log "starting wrangler dev on 127.0.0.1:$PORT (health check: http://127.0.0.1:$PORT/health)"
node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$PORT" "${extra[@]}" &
wrangler_pid=$!
trap 'kill "$wrangler_pid" 2>/dev/null || true' EXIT INT TERM

# Seed the dev application once the worker answers, and print how to call it.
if ! node scripts/seed-dev-app.mjs "http://127.0.0.1:$PORT"; then
  log "warning: could not seed the dev app (see above); the worker is still running"
fi
log "ready: http://127.0.0.1:$PORT/health (Ctrl-C stops)"
wait "$wrangler_pid"
