#!/usr/bin/env bash
# Fuzzes otp-core with cargo-fuzz (the targets in fuzz/, see fuzz/README.md): each
# target in turn for N seconds (default 180) with one libFuzzer process
# (-workers=1 -jobs=1), starting from a copy of the seeds in fuzz/corpus/<target>/
# (the grown corpus stays in fuzz/target/corpus-work/, out of the repo). Prints per
# target the wall time, runs, execs per second, new inputs and whether it crashed;
# exits 1 if any target crashed (the input is in fuzz/artifacts/<target>/).
#
# Usage: bash scripts/fuzz.sh [seconds-per-target] [target ...]
# Env:   FUZZ_SANITIZER (default none: the core is safe Rust; `address` also works)
#
# Not part of scripts/test.sh: it takes minutes. Needs the nightly toolchain;
# installs cargo-fuzz if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

secs="${1:-180}"
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [seconds-per-target] [target ...]" >&2
  exit 2
fi
shift || true
if (($# > 0)); then
  targets=("$@")
else
  targets=(template_render phone_parse request_parse sms_parts json_read)
fi
sanitizer="${FUZZ_SANITIZER:-none}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "installing the nightly toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Default cargo-fuzz build: optimised, with debug assertions and overflow checks.
echo "building the fuzz targets (sanitizer: $sanitizer)"
(cd "$FUZZ_DIR" && cargo +nightly fuzz build -s "$sanitizer")

declare -A dicts=(
  [template_render]=template.dict
  [sms_parts]=template.dict
  [phone_parse]=phone.dict
  [request_parse]=request.dict
)

summary=()
crashed=0
for t in "${targets[@]}"; do
  if [[ ! -d "$FUZZ_DIR/corpus/$t" ]]; then
    echo "unknown target $t (no fuzz/corpus/$t)" >&2
    exit 2
  fi
  work="$FUZZ_DIR/target/corpus-work/$t"
  logdir="$FUZZ_DIR/target/fuzz-logs/$t"
  mkdir -p "$work" "$logdir"
  cp "$FUZZ_DIR/corpus/$t/"* "$work/"
  log="$logdir/run.log"
  extra=()
  if [[ -n "${dicts[$t]:-}" ]]; then
    extra+=("-dict=$FUZZ_DIR/dict/${dicts[$t]}")
  fi

  echo
  echo "==== fuzzing $t for ${secs}s (log: ${log#"$ROOT"/})"
  start=$SECONDS
  set +e
  # libFuzzer's -jobs mode writes fuzz-0.log into the working directory: run in logdir.
  (cd "$logdir" && cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" -s "$sanitizer" "$t" "$work" -- \
    -max_total_time="$secs" -workers=1 -jobs=1 -print_final_stats=1 "${extra[@]}") >"$log" 2>&1
  rc=$?
  set -e
  wall=$((SECONDS - start))

  stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }
  runs="$(stat number_of_executed_units || true)"
  eps="$(stat average_exec_per_sec || true)"
  added="$(stat new_units_added || true)"
  cov="$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)"
  corpus_files="$(find "$work" -type f | wc -l)"
  if ((rc != 0)) || grep -qE '^==[0-9]+== ?ERROR: libFuzzer|panicked at|Test unit written to' "$log"; then
    result="CRASH (exit $rc)"
    crashed=1
    echo "---- $t crashed; the end of its log:"
    grep -E 'panicked at|ERROR: libFuzzer|Test unit written to|^Base64' "$log" | head -20 || true
    tail -40 "$log"
  else
    result="no crash"
  fi
  line="$(printf '%-16s %5ss  runs %-11s exec/s %-8s new %-6s corpus %-6s %-22s %s' \
    "$t" "$wall" "${runs:-?}" "${eps:-?}" "${added:-?}" "$corpus_files" "${cov:-}" "$result")"
  echo "$line"
  summary+=("$line")
done

echo
echo "==== fuzz summary (${secs}s per target, sanitizer $sanitizer, -workers=1 -jobs=1)"
printf '%s\n' "${summary[@]}"
if ((crashed)); then
  echo "FAILED: a target crashed; reproduce with: cd fuzz && cargo +nightly fuzz run -s $sanitizer <target> artifacts/<target>/<file>" >&2
  exit 1
fi
echo "ok: no crash"
