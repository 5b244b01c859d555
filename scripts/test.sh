#!/usr/bin/env bash
# make test: installs and starts everything the tests need (the emulator's venv,
# the emulator on its own port), runs every test, and stops the emulator even
# when tests fail.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Its own port, so a test run never touches an emulator started by hand on 4566.
export EMULATOR_PORT="${TEST_EMULATOR_PORT:-4599}"
trap 'scripts/emulator.sh down' EXIT
scripts/emulator.sh up
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
log="$(mktemp)"
cargo test --lib --bins --tests "$@" 2>&1 | tee "$log"
# The demo is a test too: it exits non-zero unless version 2 is promoted and
# version 3 rolled back.
cargo run --quiet --example demo >/dev/null
echo "demo: version 2 promoted, version 3 rolled back (against the test emulator)"
# One closing line over every test binary, the demo counted as one test.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p + 1, f }' "$log"
rm -f "$log"
