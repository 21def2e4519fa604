#!/usr/bin/env bash
# Installs the pinned build tools this project needs, skipping whatever is already
# present at the right version. Safe to run repeatedly; used by both README commands.
set -euo pipefail

# Keep these in step with Cargo.toml (wasm-bindgen = "=…") and package.json.
WASM_BINDGEN_VERSION=0.2.129
WORKER_BUILD_VERSION=0.8.7
WASM_PACK_VERSION=0.15.1
SCHEMATHESIS_VERSION=4.32.5
# Python tools live in a venv of the project (gitignored), not in the system Python.
VENV="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/venv"

export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '[install-tools] %s\n' "$*" >&2; }

has_version() { # has_version <command> <version>
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q -- "$2"
}

if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! has_version worker-build "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

if ! has_version wasm-pack "$WASM_PACK_VERSION"; then
  log "installing wasm-pack $WASM_PACK_VERSION (a few minutes, once)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked --force
fi

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q -- "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into target/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
