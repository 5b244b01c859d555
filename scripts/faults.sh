#!/usr/bin/env bash
# make faults: the fault-injection suite at full size (1,000 seeded scenarios
# unless FAULT_SCENARIOS says otherwise) against an emulator of its own, and
# its figures written into BENCHMARKS.md. make test runs the same suite small.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export EMULATOR_PORT="${FAULTS_EMULATOR_PORT:-4620}"
trap 'scripts/emulator.sh down' EXIT
scripts/emulator.sh up
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
# FAULT_LANES: the group suite's scenarios run in that many lanes at once
# (each its own proxy and groups; the one-target suite runs one lane).
FAULT_SCENARIOS="${FAULT_SCENARIOS:-1000}" FAULT_SEED="${FAULT_SEED:-2026}" \
    FAULT_LANES="${FAULT_LANES:-8}" FAULT_REPORT="$ROOT/BENCHMARKS.md" \
    cargo test --test faults --test faults_groups -- --nocapture
