#!/usr/bin/env bash
# Builds the npm package in pkg/ so that it is complete and packable, fully offline:
#   1. the core (root crate, feature `wasm`, cargo profile `pkg-release`, sha2's
#      compact backend) with wasm-pack, twice: `--target web` (ESM glue for browsers
#      and workerd) and `--target nodejs` (CommonJS glue that loads the wasm
#      synchronously). Both glues import the same wasm, so one file is shipped;
#   2. wasm-opt -O3 --gufa -O3, without the producers and target-features sections
#      (binaryen from node_modules), into pkg/wasm/otp_core_bg.wasm, next to the glues
#      (pkg/wasm/otp_core.js for ESM, pkg/wasm/otp_core.cjs for CommonJS);
#   3. tsc: pkg/src/*.ts into pkg/dist/ (ESM + .d.ts) and pkg/cjs/ (CommonJS + .d.ts).
# Steps whose outputs are newer than their inputs are skipped; FORCE_BUILD=1 redoes all.
# wasm-pack uses the wasm-bindgen on PATH (scripts/install-tools.sh), never a download.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
log() { printf '[build-pkg] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)"
OUT=pkg/wasm
STAGE=target/wasm-pack # wasm-pack output, before wasm-opt and renaming
WASM="$OUT/otp_core_bg.wasm"
# --gufa (whole-program flow analysis) between two -O3 runs: 0.5 KiB smaller gzipped,
# same speed (BENCHMARKS.md, "npm package wasm").
WASM_OPT_FLAGS="-O3 --gufa -O3 --strip-producers --strip-target-features"
force="${FORCE_BUILD:-0}"
# SHA-256 (PIN digests, HMAC keys, webhook signatures) from sha2's compact software
# backend, a loop instead of 64 unrolled rounds: 1.6 KiB smaller gzipped, no
# measurable change in bench/wasm.mjs (BENCHMARKS.md, "npm package wasm").
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg sha2_backend_soft=\"compact\""

# stale <output> <inputs...>: true when the output is missing or an input is newer.
stale() {
  local out="$1"
  shift
  [[ "$force" == 1 || ! -e "$out" ]] && return 0
  [[ -n "$(find "$@" -newer "$out" -print -quit 2>/dev/null)" ]]
}

step_start=$SECONDS
step_done() { log "$1 ($((SECONDS - step_start))s)"; step_start=$SECONDS; }

# --- 1 + 2: wasm --------------------------------------------------------------------
if stale "$WASM" src Cargo.toml Cargo.lock .cargo scripts/build-pkg.sh; then
  command -v wasm-pack >/dev/null || die "wasm-pack not found: run scripts/install-tools.sh"
  wasm-bindgen --version 2>/dev/null | grep -q -- "$WASM_BINDGEN_VERSION" ||
    die "wasm-bindgen $WASM_BINDGEN_VERSION not on PATH: run scripts/install-tools.sh"
  [[ -x node_modules/.bin/wasm-opt && -x node_modules/.bin/tsc ]] ||
    die "node_modules/.bin/{wasm-opt,tsc} missing: run scripts/node-deps.sh (npm ci)"

  for target in web nodejs; do
    log "wasm-pack build --target $target"
    # --no-opt: wasm-opt runs below with our flags; --mode no-install: never download.
    wasm-pack --quiet build . --profile pkg-release --mode no-install --no-opt --no-pack \
      --target "$target" --out-dir "$STAGE/$target" --out-name otp_core -- --features wasm
  done
  cmp -s "$STAGE/web/otp_core_bg.wasm" "$STAGE/nodejs/otp_core_bg.wasm" ||
    die "the web and nodejs targets built different wasm files; ship both or fix the glue"
  step_done "wasm-pack: web + nodejs"

  rm -rf "$OUT"
  mkdir -p "$OUT"
  wasm-opt $WASM_OPT_FLAGS "$STAGE/web/otp_core_bg.wasm" -o "$WASM.tmp"
  cp "$STAGE/web/otp_core.js" "$OUT/"
  sed 's#@ts-self-types="./otp_core.d.ts"#@ts-self-types="./otp_core.d.cts"#' \
    "$STAGE/nodejs/otp_core.js" >"$OUT/otp_core.cjs"
  # The glue declares `[Symbol.dispose]()` on classes, which only type-checks with
  # TypeScript's esnext.disposable lib; the package's own classes wrap them (and say
  # `free()`), so the declaration goes and users' projects need no particular lib.
  no_dispose='/^ *\[Symbol\.dispose\](): void;$/d'
  sed "$no_dispose" "$STAGE/web/otp_core.d.ts" >"$OUT/otp_core.d.ts"
  sed "$no_dispose" "$STAGE/nodejs/otp_core.d.ts" >"$OUT/otp_core.d.cts"
  mv "$WASM.tmp" "$WASM" # last, so an interrupted build is redone
  step_done "wasm-opt $WASM_OPT_FLAGS into $OUT/"
else
  log "$OUT is up to date"
fi

# --- 3: TypeScript ------------------------------------------------------------------
ts_inputs=(pkg/src pkg/tsconfig.json pkg/tsconfig.cjs.json pkg/package.json "$OUT/otp_core.d.ts"
  "$OUT/otp_core.d.cts" scripts/build-pkg.sh)
if stale pkg/dist/index.js "${ts_inputs[@]}" || stale pkg/cjs/index.js "${ts_inputs[@]}"; then
  rm -rf pkg/dist pkg/cjs
  tsc -p pkg/tsconfig.json
  tsc -p pkg/tsconfig.cjs.json
  # pkg/ is "type": "module": this scope marks the CommonJS build (and its .d.ts) as
  # CommonJS, and its #wasm (resolved from the nearest package.json) is the Node loader.
  printf '{\n  "type": "commonjs",\n  "imports": { "#wasm": "./load-node.js" }\n}\n' >pkg/cjs/package.json
  step_done "tsc: pkg/dist (ESM) + pkg/cjs (CommonJS)"
else
  log "pkg/dist and pkg/cjs are up to date"
fi

raw=$(wc -c <"$WASM")
gz=$(gzip -9c "$WASM" | wc -c)
log "wasm: $WASM $((raw / 1024)) KiB raw ($raw bytes), $((gz / 1024)) KiB gzipped ($gz bytes)"
