#!/usr/bin/env bash
# Regenerates the core's numbering plan (src/numbering/data.rs) and its test vectors
# (src/numbering/vectors.tsv) from libphonenumber's metadata, as shipped in the
# `phonenumbers` PyPI package pinned below, then runs the core's numbering tests.
#
# Usage: bash scripts/gen-numbering-plan.sh
# To move to a newer metadata release: change PHONENUMBERS_VERSION here and PIN in
# scripts/gen-numbering-plan.py, run this, and commit the two generated files.
#
# Needs python3 (with venv) and PyPI; installs into target/numbering-venv, not the system.
set -euo pipefail

PHONENUMBERS_VERSION=9.0.43
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/numbering-venv"
export PATH="$HOME/.cargo/bin:$PATH"

if [[ "$("$VENV/bin/python" -c 'import phonenumbers; print(phonenumbers.__version__)' 2>/dev/null)" != "$PHONENUMBERS_VERSION" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "phonenumbers==$PHONENUMBERS_VERSION"
fi
"$VENV/bin/python" "$ROOT/scripts/gen-numbering-plan.py"
cd "$ROOT"
cargo test --quiet -p otp-core --lib numbering
