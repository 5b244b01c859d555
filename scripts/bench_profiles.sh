#!/usr/bin/env bash
# make bench-profiles: the release profile and the SDK features, chosen by
# measurement (issue #6). Builds the Lambda binary once per variant, natively
# (to run it here) and for arm64 through cargo-lambda (the zip that ships), then
# measures each native binary's start-up, its peak RSS and a 100-target tick
# under a local runtime API, and writes the table into BENCHMARKS.md.
#
# Every variant is Cargo.toml's [profile.release] with CARGO_PROFILE_RELEASE_*
# overrides, or the tree with one manifest change, all from the committed tree
# (HEAD, recorded in the table), built in target/profiles so
# that target/release and target/lambda-arm64 (make build, make bench) stay as
# they are. About 8 to 10 minutes of building per variant on 2 cores (cold).
#
# Usage: scripts/bench_profiles.sh [build [variant...] | measure]   (both when
# not given; build with names rebuilds just those)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PATH="$(scripts/tools.sh path):$PATH"
export PATH
PROFILES="$ROOT/target/profiles"
OUT="$PROFILES/out"

# name | what it changes (the table's words) | overrides, or @sdk-defaults
VARIANTS=(
    "chosen|Cargo.toml as committed: opt-level s, lto fat, codegen-units 1, panic abort, strip|"
    "opt-level-z|opt-level z|CARGO_PROFILE_RELEASE_OPT_LEVEL=z"
    "opt-level-3|opt-level 3|CARGO_PROFILE_RELEASE_OPT_LEVEL=3"
    "lto-thin|lto thin|CARGO_PROFILE_RELEASE_LTO=thin"
    "panic-unwind|panic unwind|CARGO_PROFILE_RELEASE_PANIC=unwind"
    "cargo-defaults|cargo's release defaults: opt-level 3, no lto, codegen-units 16, unwind, no strip|CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_STRIP=false"
    "sdk-default-features|the AWS SDK crates' default features (our profile)|@sdk-defaults"
)

# The committed tree (HEAD), so that every variant builds the same code.
snapshot() {
    local dir="$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    git archive HEAD | tar -x -C "$dir"
}

# The same tree with the SDK crates on their default features.
sdk_defaults() {
    local dir="$1"
    sed -i -E '/^aws-(config|sdk-lambda|sdk-cloudwatch|sdk-eventbridge) =/ s/default-features = false, features = \[[^]]*\]/features = ["behavior-version-latest"]/' \
        "$dir/Cargo.toml"
    if ! grep -q '^aws-config = { version = "[^"]*", features = \["behavior-version-latest"\] }' "$dir/Cargo.toml"; then
        echo "bench-profiles: could not switch the SDK crates to their default features" >&2
        exit 1
    fi
}

# Builds the variants named (all when none), each natively and for arm64.
build() {
    local arm64=yes
    if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu &&
        ! rustup target add aarch64-unknown-linux-gnu; then
        arm64=
        echo "bench-profiles: no aarch64 standard library; the arm64 zips are left out" >&2
    fi
    local commit
    commit="$(git rev-parse --short HEAD)"
    [ $# -gt 0 ] || rm -rf "$OUT"
    local order=0
    for v in "${VARIANTS[@]}"; do
        IFS='|' read -r name what overrides <<<"$v"
        local dir
        dir="$OUT/$(printf '%02d' $order)-$name"
        order=$((order + 1))
        if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
            continue
        fi
        rm -rf "$dir"
        mkdir -p "$dir"
        local src="$PROFILES/src-$name"
        snapshot "$src"
        if [ "$overrides" = "@sdk-defaults" ]; then
            sdk_defaults "$src"
            overrides=""
        fi
        echo "bench-profiles: $name ($what), at $commit" >&2
        local t0 t1 t2
        t0=$(date +%s)
        # shellcheck disable=SC2086
        (cd "$src" && env CARGO_TARGET_DIR="$PROFILES" $overrides \
            cargo build --release --bin lambda-rollout)
        t1=$(date +%s)
        cp "$PROFILES/release/lambda-rollout" "$dir/lambda-rollout"
        if [ -n "$arm64" ]; then
            # shellcheck disable=SC2086
            (cd "$src" && env CARGO_TARGET_DIR="$PROFILES" $overrides \
                cargo lambda build --release --arm64 --output-format zip \
                --bin lambda-rollout --lambda-dir "$dir/lambda")
        fi
        t2=$(date +%s)
        rm -rf "$src"
        printf '{"name":"%s","what":"%s","overrides":"%s","commit":"%s","native_build_s":%d,"arm64_build_s":%d}\n' \
            "$name" "$what" "$overrides" "$commit" $((t1 - t0)) $((t2 - t1)) >"$dir/variant.json"
    done
}

measure() {
    export EMULATOR_PORT="${BENCH_EMULATOR_PORT:-4630}"
    trap 'scripts/emulator.sh down' EXIT
    scripts/emulator.sh up
    # shellcheck disable=SC1090
    source ".tools/emulator-$EMULATOR_PORT/env"
    cargo run --release --example bench_coldstart -- --variants "$OUT" --write BENCHMARKS.md
}

case "${1:-all}" in
build) shift && build "$@" ;;
measure) measure ;;
all) build && measure ;;
*) echo "usage: scripts/bench_profiles.sh [build [variant...] | measure]" >&2; exit 2 ;;
esac
