#!/usr/bin/env bash
# Builds the Cloudflare Worker crate (worker/) into worker/build/ with worker-build in
# release mode, fully offline: the wasm-bindgen CLI comes from scripts/install-tools.sh,
# wasm-opt (binaryen) and esbuild from node_modules (npm ci). Used by wrangler's
# [build] command and by scripts/dev.sh and scripts/test.sh.
#
# Skips the build when worker/build/ is newer than every input; FORCE_BUILD=1 rebuilds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '[build-worker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cd "$ROOT"
OUT="worker/build/index.js"

# Inputs of the worker build: both crates' sources and manifests, the lockfiles, cargo
# config and this script.
inputs_newer_than() {
  local newer
  newer="$(find src worker/src Cargo.toml Cargo.lock worker/Cargo.toml .cargo package-lock.json \
    scripts/build-worker.sh -newer "$1" -print -quit 2>/dev/null || true)"
  [[ -n "$newer" ]]
}

if [[ "${FORCE_BUILD:-0}" != 1 && -f "$OUT" && -f worker/build/index_bg.wasm ]] &&
  ! inputs_newer_than "$OUT"; then
  log "worker/build is up to date (FORCE_BUILD=1 to rebuild)"
  exit 0
fi

command -v worker-build >/dev/null || die "worker-build not found: run scripts/install-tools.sh"
WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" || die "wasm-bindgen not found: run scripts/install-tools.sh"
[[ -x node_modules/.bin/wasm-opt && -x node_modules/.bin/esbuild ]] ||
  die "node_modules/.bin/{wasm-opt,esbuild} missing: run npm ci"

# worker-build would otherwise download these binaries; point it at local ones.
export WASM_BINDGEN_BIN
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild"

log "building worker/ (release)"
start=$SECONDS
(cd worker && worker-build --release)
touch "$OUT" # worker-build may keep old mtimes; mark the output as fresh
log "done in $((SECONDS - start))s: $(du -sh worker/build | cut -f1) in worker/build"
