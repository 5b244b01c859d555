#!/usr/bin/env bash
# make demo-live: the seed's scenario in real time on the local stack (make
# deploy-local, run here with a compressed policy: steps 10/50/100, a minute's
# bake): requests through API Gateway, the orchestrator a Lambda ticked every
# minute, version 2 promoted and a failing version 3 rolled back, with a
# progress line per tick and target/demo-live/timeline.svg at the end. About
# seven minutes. Leaves the emulator running (make emulator-down stops it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export EMULATOR_PORT="${EMULATOR_PORT:-4566}"
# The minute-scale policy: evidence against a 5% floor, asked only for the
# promotion (the default 0.1% floor needs thousands of green requests), metrics
# 30 s behind (the emulator's arrive at once), latency within 3x blue's (both
# take a few milliseconds here, where a ratio is noise), and no auto_start:
# the demo starts each version itself.
policy='{"steps":[10,50,100],"bake":"1m","metric_lag":"30s","min_invocations":20,"error_floor":5,"evidence_from":100,"max_error_rate":2,"max_latency_ratio":3}'
PARAMETERS="PolicyJson=$policy ${PARAMETERS:-}" scripts/deploy-local.sh >/dev/null
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
cargo run --quiet --example demo_live
