#!/usr/bin/env bash
# Runs every benchmark and prints one table (see BENCHMARKS.md for the method):
#   native  the core with criterion (bench/benches/core.rs), bench profile
#   wasm    the same operations through the npm package's wasm in Node (bench/wasm.mjs)
#   worker  the built worker in workerd on 127.0.0.1: send, check and status against
#           GET /health of the same worker in the same run (bench/worker.mjs)
#   sizes   the deployable worker (wrangler deploy --dry-run) and the npm wasm (bench/sizes.mjs)
#   fraud   the fraud guard's simulated week (bench/src/bin/fraud_sim.rs), to fraud.md
# Builds what it needs first (release): the bench binary, pkg/ and worker/build/.
#
#   scripts/bench.sh [--only native,wasm,worker,sizes,fraud] [--quick]
#
# Durations (defaults in brackets; --quick shortens them all):
#   BENCH_TIME_MS [2000]     measurement per core operation, native and wasm
#   BENCH_WARMUP_MS [500]    warm-up per core operation and per HTTP phase
#   BENCH_HTTP_MS [4000]     each HTTP phase; BENCH_HTTP_MAX [20000] requests at most
#   BENCH_CONCURRENCY [8]    HTTP requests in flight
#   BENCH_STORAGE=disk       keep the worker's KV and Durable Object data on disk, not tmpfs
# Results go to target/bench/ (BENCH_OUT): raw JSON, criterion's data, results.md.
# Benchmarks print figures; nothing here fails on a slow figure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

only="native,wasm,worker,sizes,fraud"
while (($#)); do
  case "$1" in
    --only) only="${2:?--only needs a list}"; shift 2 ;;
    --only=*) only="${1#--only=}"; shift ;;
    --quick)
      export BENCH_TIME_MS="${BENCH_TIME_MS:-600}" BENCH_WARMUP_MS="${BENCH_WARMUP_MS:-200}"
      export BENCH_HTTP_MS="${BENCH_HTTP_MS:-1500}"
      shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
want() { [[ ",$only," == *",$1,"* ]]; }

export BENCH_TIME_MS="${BENCH_TIME_MS:-2000}" BENCH_WARMUP_MS="${BENCH_WARMUP_MS:-500}"
export BENCH_HTTP_MS="${BENCH_HTTP_MS:-4000}" BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-8}"
OUT="${BENCH_OUT:-target/bench}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# Only this script's own files: results of an earlier run never mix into this one.
rm -rf "${OUT:?}/criterion"
rm -f "$OUT"/{machine-start,machine-end,wasm,worker,sizes}.json "$OUT"/{core-loop.wasm,results.md}

# --- tools and builds -----------------------------------------------------------------
bash scripts/install-tools.sh </dev/null >&2
bash scripts/node-deps.sh </dev/null >&2
if want native; then
  log "building the native benchmark (cargo bench --no-run)"
  cargo bench -q -p otp-bench --no-run >&2
fi
if want wasm || want sizes; then bash scripts/build-pkg.sh >&2; fi
if want wasm; then
  # The core's loop alone in wasm (bench/src/lib.rs), built and optimised like pkg/'s wasm.
  # The same RUSTFLAGS as scripts/build-pkg.sh (sha2's compact backend): the same
  # code, and the two builds share their dependencies instead of rebuilding them.
  log "building the core loop for wasm32 (profile pkg-release, wasm-opt -O3 --gufa -O3, as pkg/)"
  RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }--cfg sha2_backend_soft=\"compact\"" \
    cargo build -q -p otp-bench --lib --profile pkg-release --target wasm32-unknown-unknown >&2
  target_dir="$(cargo metadata --format-version 1 --no-deps | node -pe 'JSON.parse(require("fs").readFileSync(0)).target_directory')"
  wasm-opt -O3 --gufa -O3 "$target_dir/wasm32-unknown-unknown/pkg-release/otp_bench.wasm" -o "$OUT/core-loop.wasm"
  export BENCH_CORE_WASM="$OUT/core-loop.wasm"
fi
if want worker || want sizes; then bash scripts/build-worker.sh >&2; fi

# The machine, and how busy it is (figures from a shared machine move with its load).
machine() {
  node -e '
    const os = require("os"), { execSync } = require("child_process");
    const sh = (c) => { try { return execSync(c, { encoding: "utf8" }).trim(); } catch { return "?"; } };
    const osName = (sh("cat /etc/os-release").match(/^PRETTY_NAME="?([^"\n]*)/m) || [])[1] || os.type();
    console.log(JSON.stringify({ cpus: os.cpus().length, cpu: os.cpus()[0]?.model, os: osName,
      kernel: os.release(), node: process.version, rustc: sh("rustc --version"), loadavg: os.loadavg() }));'
}
machine >"$OUT/machine-start.json"
start=$SECONDS

# --- runs -------------------------------------------------------------------------------
if want native; then
  log "native: criterion, $BENCH_TIME_MS ms per operation"
  secs() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }
  CRITERION_HOME="$OUT/criterion" cargo bench -q -p otp-bench -- \
    --warm-up-time "$(secs "$BENCH_WARMUP_MS")" --measurement-time "$(secs "$BENCH_TIME_MS")" \
    --noplot >&2
fi
if want wasm; then
  log "wasm: the npm package in Node, $BENCH_TIME_MS ms per operation"
  node bench/wasm.mjs "$OUT/wasm.json"
fi
if want worker; then
  log "worker: workerd on 127.0.0.1, $BENCH_CONCURRENCY in flight, $BENCH_HTTP_MS ms per phase"
  node bench/worker.mjs "$OUT/worker.json"
fi
if want sizes; then
  log "sizes: wrangler deploy --dry-run and pkg/wasm"
  node bench/sizes.mjs "$OUT/sizes.json"
fi
if want fraud; then log "fraud: the guard's simulated week"; cargo run -q --release -p otp-bench --bin fraud_sim | tee "$OUT/fraud.md" >&2; fi

machine >"$OUT/machine-end.json"
log "done in $((SECONDS - start))s; results in ${OUT#"$ROOT"/}/"
node bench/report.mjs "$OUT" | tee "$OUT/results.md"
