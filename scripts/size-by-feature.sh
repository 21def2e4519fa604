#!/usr/bin/env bash
# The worker's wasm size by feature (BENCHMARKS.md, "Worker size by feature"): builds
# the worker crate with the profile of the deployable worker (worker-release) and v0
# symbol names (generic arguments included), in its own target directory so the
# normal build is untouched; bench/src/bin/wasm_size.rs attributes each function of
# rustc's output to a feature and applies the shares to the shipped wasm
# (worker/build/index_bg.wasm, built by scripts/build-worker.sh). Prints a markdown
# table.
#
#   scripts/size-by-feature.sh [table.md]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$ROOT"
log() { printf '[size-by-feature] %s\n' "$*" >&2; }

bash scripts/build-worker.sh >&2
TARGET="$ROOT/target/size-by-feature"
log "building otp-worker with v0 symbol names in $TARGET"
CARGO_TARGET_DIR="$TARGET" RUSTFLAGS="-C symbol-mangling-version=v0" \
  cargo build --quiet --profile worker-release --target wasm32-unknown-unknown -p otp-worker >&2
table="$(cargo run --quiet --release -p otp-bench --bin wasm_size -- \
  "$TARGET/wasm32-unknown-unknown/worker-release/otp_worker.wasm" worker/build/index_bg.wasm)"
printf '%s\n' "$table"
if [[ -n "${1:-}" ]]; then printf '%s\n' "$table" >"$1"; fi
