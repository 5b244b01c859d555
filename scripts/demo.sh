#!/usr/bin/env bash
# make demo: a rollout of the seed's `hello` function ticked to promotion against
# the local emulator. Starts the emulator if it is not running (and then stops it
# at the end); leaves one started by `make emulator-up` running.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export EMULATOR_PORT="${EMULATOR_PORT:-4566}"
if ! scripts/emulator.sh status >/dev/null 2>&1; then
    trap 'scripts/emulator.sh down' EXIT
    scripts/emulator.sh up
fi
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
cargo run --quiet --example demo
