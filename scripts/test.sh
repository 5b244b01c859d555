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
cargo test --all-targets "$@"
