#!/usr/bin/env bash
# Runs every check and test of the project, installing what it needs first:
# formatting, clippy, the Rust tests (native, and the core's on wasm32 under Node),
# the worker build, the Node tests of the built worker and package (tests/**/*.test.mjs;
# Debian's redis-server is installed if missing), and the demo page's tests in Chromium
# (tests/browser/; Debian's chromium is installed if missing).
# Stops at the first failure. Works unattended (CI=true, no stdin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

current=""
section_start=$SECONDS
section() {
  if [[ -n "$current" ]]; then
    printf '==== ok: %s (%ds)\n' "$current" "$((SECONDS - section_start))"
  fi
  current="$1"
  section_start=$SECONDS
  printf '\n==== %s\n' "$current"
}
trap 'status=$?; if ((status != 0)); then printf "\n==== FAILED: %s (exit %d)\n" "$current" "$status" >&2; fi' EXIT

section "install tools (scripts/install-tools.sh)"
bash scripts/install-tools.sh </dev/null

section "node_modules (npm ci if needed)"
bash scripts/node-deps.sh </dev/null

section "cargo fmt --check"
cargo fmt --all -- --check

# Before clippy: the worker embeds the package's browser build (pkg/dist, pkg/wasm).
section "npm package build (scripts/build-pkg.sh)"
bash scripts/build-pkg.sh </dev/null

section "cargo clippy (native, all targets)"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo clippy (worker on wasm32)"
cargo clippy -p otp-worker --target wasm32-unknown-unknown -- -D warnings

section "cargo test (native)"
cargo test --workspace

section "cargo test otp-core on wasm32 (wasm-bindgen-test-runner, Node)"
cargo test -p otp-core --target wasm32-unknown-unknown

section "worker build (scripts/build-worker.sh)"
bash scripts/build-worker.sh

section "wasm imports: nothing from env (the core must not need a host beyond wasm-bindgen)"
node scripts/check-wasm-imports.mjs pkg/wasm/otp_core_bg.wasm worker/build/index_bg.wasm

section "redis-server for the package's RedisStore tests (Debian package, installed when missing)"
# tests/pkg/redis.test.mjs starts its own on 127.0.0.1 (free port, nothing persisted) and stops it.
if command -v redis-server >/dev/null; then
  redis-server --version
else
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update </dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server </dev/null
fi

section "node tests (tests/**/*.test.mjs but tests/browser/)"
shopt -s globstar nullglob
node_tests=()
for t in tests/**/*.test.mjs; do
  [[ "$t" == tests/browser/* ]] || node_tests+=("$t")
done
if ((${#node_tests[@]} == 0)); then
  echo "no tests/**/*.test.mjs found" >&2
  exit 1
fi
node --test "${node_tests[@]}" </dev/null

section "chromium for the browser tests (Debian package, installed when missing)"
if [[ -x /usr/bin/chromium ]]; then
  /usr/bin/chromium --version 2>/dev/null || true
else
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update </dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium </dev/null
fi

section "browser tests (tests/browser/, Chromium via playwright-core; screenshots in test-results/screenshots/)"
node --test tests/browser/ </dev/null

section "done"
echo "all checks passed"
