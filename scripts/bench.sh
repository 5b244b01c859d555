#!/usr/bin/env bash
# make bench: the performance figures of issues #6 and #16, written into
# BENCHMARKS.md: one tick over 1 to 500 targets against the emulator (wall
# time, API calls), the control-plane calls and the metric data points of a
# 500-target fleet,
# and the release binary's cold start, peak RSS and the arm64 zip. These are
# measurements, not tests: nothing here fails because the machine is slow.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export EMULATOR_PORT="${BENCH_EMULATOR_PORT:-4630}"
trap 'scripts/emulator.sh down' EXIT
scripts/emulator.sh up
# shellcheck disable=SC1090
source ".tools/emulator-$EMULATOR_PORT/env"
# The zip whose size is reported (cargo-lambda, arm64).
scripts/build.sh
cargo build --release --bin lambda-rollout
cargo run --release --example bench_tick -- --write BENCHMARKS.md
# Control-plane calls for 500 targets, 2 rolling, before and after idle reads.
cargo run --release --example bench_control_plane -- --write BENCHMARKS.md
# CloudWatch data points a tick for 500 targets held 10 hours.
cargo run --release --example bench_metric_reads -- --write BENCHMARKS.md
cargo run --release --example bench_coldstart -- --bin target/release/lambda-rollout --write BENCHMARKS.md
