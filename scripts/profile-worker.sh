#!/usr/bin/env bash
# A CPU profile of the worker under load (bench/profile-worker.mjs): builds the worker
# as scripts/build-worker.sh does but keeps the wasm name section, in its own
# directory (target/profile-build), then profiles one kind of request.
#
#   scripts/profile-worker.sh [check|send|status|health]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$ROOT"

bash scripts/build-worker.sh >&2 # the static assets and the npm package it needs
OUT="$ROOT/target/profile-build"
printf '[profile-worker] building the worker with wasm names into %s\n' "$OUT" >&2
(
  cd worker
  WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt" \
    ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild" \
    worker-build --profile worker-release --out-dir "$OUT" >/dev/null
)
cp worker/js/entry.mjs "$OUT/entry.mjs"
node bench/profile-worker.mjs "${1:-check}" "$OUT/entry.mjs"
