#!/usr/bin/env bash
# Builds the Cloudflare Worker crate (worker/) into worker/build/ with worker-build, and
# collects the worker's static assets (demo page, npm package browser build, OpenAPI
# document) into worker/build/assets; fully offline: the wasm-bindgen CLI comes from scripts/install-tools.sh, wasm-opt
# (binaryen) and esbuild from node_modules (npm ci). Used by wrangler's [build] command
# and by scripts/dev.sh and scripts/test.sh.
#
# Size (see BENCHMARKS.md): the cargo profile is `worker-release` (release with
# opt-level "z"; the worker's speed is bound by storage round trips, not code), and
# the wasm name section that worker-build keeps is stripped afterwards. Set
# KEEP_WASM_NAMES=1 (with FORCE_BUILD=1) to keep function names in wasm stack traces.
#
# Skips the wasm build when worker/build/index.js is newer than every input;
# FORCE_BUILD=1 rebuilds. The assets are collected on every run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '[build-worker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cd "$ROOT"
OUT="worker/build/index.js"
# wrangler's `main`: worker-build's module with its Durable Object classes declared
# for RPC (see the file).
ENTRY="worker/build/entry.mjs"

# --- Static assets ------------------------------------------------------------------
# The demo page (demo/), the npm package's browser build that it loads (pkg/dist,
# pkg/wasm) and the OpenAPI document are not compiled into the worker: they are Workers
# Static Assets (`[assets]` in wrangler.toml), collected here into worker/build/assets.
# The worker serves them through its ASSETS binding (worker/src/assets.rs), which maps
# request paths onto this layout:
#   openapi.json       GET /openapi.json
#   demo.html          GET /demo and /demo/ (demo/index.html)
#   demo/<file>        GET /demo/<file>: the rest of demo/, and demo/pkg/dist/*.js and
#                      demo/pkg/wasm/otp_core{.js,_bg.wasm} (the package's ESM browser build)
#   console.html       GET /console and /console/ (console/index.html, the operator console)
#   console/<file>     GET /console/<file>: the rest of console/, and console/uplot/ (uPlot's
#                      ESM build and stylesheet from node_modules, for the console's charts)
# Only what is copied here can be served. Rebuilt on every run (a few copies); the
# directory is replaced only when its content changed, so `wrangler dev` reloads only then.
FORCE_BUILD=0 bash scripts/build-pkg.sh
ASSETS=worker/build/assets
assemble_assets() {
  local tmp="$ASSETS.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp/demo/pkg/dist" "$tmp/demo/pkg/wasm"
  cp api/openapi.json "$tmp/openapi.json"
  cp -R demo/. "$tmp/demo/"
  mv "$tmp/demo/index.html" "$tmp/demo.html"
  mkdir -p "$tmp/console/uplot"
  cp -R console/. "$tmp/console/"
  mv "$tmp/console/index.html" "$tmp/console.html"
  cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE "$tmp/console/uplot/"
  cp pkg/dist/{index,core,errors,service,stores,redis-store,durable-object,callback,client,load-browser}.js "$tmp/demo/pkg/dist/"
  cp pkg/wasm/otp_core.js pkg/wasm/otp_core_bg.wasm "$tmp/demo/pkg/wasm/"
  if [[ -d "$ASSETS" ]] && diff -r -q "$tmp" "$ASSETS" >/dev/null; then
    rm -rf "$tmp"
  else
    rm -rf "$ASSETS"
    mv "$tmp" "$ASSETS"
    log "static assets: $(find "$ASSETS" -type f | wc -l) files in $ASSETS"
  fi
}
mkdir -p worker/build
assemble_assets

# --- Worker script -------------------------------------------------------------------
# Inputs of the worker build: both crates' sources and manifests, the lockfiles, cargo
# config, .dev.vars.example (the worker refuses its values outside development) and
# this script.
inputs_newer_than() {
  local newer
  newer="$(find src worker/src Cargo.toml Cargo.lock worker/Cargo.toml .cargo package-lock.json .dev.vars.example \
    scripts/build-worker.sh -newer "$1" -print -quit 2>/dev/null || true)"
  [[ -n "$newer" ]]
}

if [[ "${FORCE_BUILD:-0}" != 1 && -f "$OUT" && -f worker/build/index_bg.wasm ]] &&
  ! inputs_newer_than "$OUT"; then
  cp worker/js/entry.mjs "$ENTRY"
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

log "building worker/ (profile worker-release)"
start=$SECONDS
(cd worker && worker-build --profile worker-release)
if [[ "${KEEP_WASM_NAMES:-0}" != 1 ]]; then
  # No optimisation passes here (worker-build ran wasm-opt -O); the same features as
  # worker-build enables, so the encoding stays what workerd accepts.
  features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue
    reference-types exception-handling)
  node_modules/.bin/wasm-opt "${features[@]/#/--enable-}" --strip-debug --strip-producers \
    worker/build/index_bg.wasm -o worker/build/index_bg.wasm.tmp
  mv worker/build/index_bg.wasm.tmp worker/build/index_bg.wasm
fi
touch "$OUT" # worker-build may keep old mtimes; mark the output as fresh
cp worker/js/entry.mjs "$ENTRY"
log "done in $((SECONDS - start))s: $(du -sh worker/build | cut -f1) in worker/build"
