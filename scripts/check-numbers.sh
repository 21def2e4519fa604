#!/usr/bin/env bash
# Lists the phone numbers in tests, demo, examples and docs that the core would not
# send an OTP to, with a replacement for each (see scripts/check-numbers.py).
#
# Usage: bash scripts/check-numbers.sh [path ...]   (exit 1 when it lists any)
set -euo pipefail

PHONENUMBERS_VERSION=9.0.43 # the release src/numbering/ is generated from
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/target/numbering-venv"

if [[ "$("$VENV/bin/python" -c 'import phonenumbers; print(phonenumbers.__version__)' 2>/dev/null)" != "$PHONENUMBERS_VERSION" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "phonenumbers==$PHONENUMBERS_VERSION"
fi
exec "$VENV/bin/python" "$ROOT/scripts/check-numbers.py" "$@"
